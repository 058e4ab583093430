// Package table prints custom resources the way `kubectl get` does, from a CRD's printer columns,
// for the demo, which runs where kubectl may be absent.
package table

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/client-go/util/jsonpath"
)

// Print writes objs as a table with NAMESPACE, NAME and the CRD's printer columns.
func Print(w io.Writer, crd *apiextensionsv1.CustomResourceDefinition, objs []unstructured.Unstructured, now time.Time) error {
	if len(crd.Spec.Versions) == 0 {
		return fmt.Errorf("CRD %s has no versions", crd.Name)
	}
	cols := crd.Spec.Versions[0].AdditionalPrinterColumns
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	head := []string{"NAMESPACE", "NAME"}
	for _, c := range cols {
		head = append(head, strings.ToUpper(c.Name))
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, o := range objs {
		row := []string{o.GetNamespace(), strings.ToLower(crd.Spec.Names.Singular) + "." + crd.Spec.Group + "/" + o.GetName()}
		for _, c := range cols {
			v, err := eval(c.JSONPath, o.Object)
			if err != nil {
				return fmt.Errorf("column %s: %w", c.Name, err)
			}
			if c.Type == "date" && v != "" {
				if t, err := time.Parse(time.RFC3339, v); err == nil {
					v = duration.HumanDuration(now.Sub(t))
				}
			}
			if v == "" {
				v = "<none>"
			}
			row = append(row, v)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

func eval(path string, obj map[string]any) (string, error) {
	jp := jsonpath.New("col").AllowMissingKeys(true)
	if err := jp.Parse("{" + path + "}"); err != nil {
		return "", err
	}
	var b strings.Builder
	if err := jp.Execute(&b, obj); err != nil {
		return "", err
	}
	return b.String(), nil
}
