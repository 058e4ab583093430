// Command apidocs writes docs/api.md, a reference of every spec and status field, from the
// generated CRDs (so it always says what the API server enforces: types, defaults, bounds and
// CEL rules with their messages). Run it with `make docs`; `make verify` checks it is current.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: apidocs CRD_DIR OUTPUT")
		os.Exit(2)
	}
	files, err := filepath.Glob(filepath.Join(os.Args[1], "*.yaml"))
	if err != nil || len(files) == 0 {
		fmt.Fprintln(os.Stderr, "apidocs: no CRDs in", os.Args[1])
		os.Exit(1)
	}
	sort.Strings(files)
	var b strings.Builder
	b.WriteString("# API reference\n\nGenerated from `config/crd/bases` by `make docs`; do not edit. Every constraint listed is enforced by the API server.\n")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			fail(err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(data, &crd); err != nil {
			fail(fmt.Errorf("%s: %w", f, err))
		}
		for _, v := range crd.Spec.Versions {
			fmt.Fprintf(&b, "\n## %s (`%s/%s`, short names: %s)\n\n", crd.Spec.Names.Kind, crd.Spec.Group, v.Name, strings.Join(crd.Spec.Names.ShortNames, ", "))
			root := v.Schema.OpenAPIV3Schema
			if d := root.Description; d != "" {
				b.WriteString(d + "\n\n")
			}
			if len(v.AdditionalPrinterColumns) > 0 {
				b.WriteString("`kubectl get` columns: ")
				var cols []string
				for _, c := range v.AdditionalPrinterColumns {
					cols = append(cols, fmt.Sprintf("%s (`%s`)", c.Name, c.JSONPath))
				}
				b.WriteString(strings.Join(cols, ", ") + "\n\n")
			}
			b.WriteString("| field | type | description | constraints |\n| --- | --- | --- | --- |\n")
			for _, top := range []string{"spec", "status"} {
				if p, ok := root.Properties[top]; ok {
					walk(&b, top, p, root.Required)
				}
			}
		}
	}
	if err := os.WriteFile(os.Args[2], []byte(b.String()), 0o644); err != nil {
		fail(err)
	}
}

func walk(b *strings.Builder, path string, s apiextensionsv1.JSONSchemaProps, _ []string) {
	row(b, path, s)
	switch s.Type {
	case "object":
		for _, n := range sortedKeys(s.Properties) {
			walk(b, path+"."+n, s.Properties[n], s.Required)
		}
	case "array":
		if s.Items != nil && s.Items.Schema != nil && s.Items.Schema.Type == "object" && len(s.Items.Schema.Properties) > 0 {
			it := *s.Items.Schema
			for _, n := range sortedKeys(it.Properties) {
				walk(b, path+"[]."+n, it.Properties[n], it.Required)
			}
		}
	}
}

func row(b *strings.Builder, path string, s apiextensionsv1.JSONSchemaProps) {
	typ := s.Type
	if s.Type == "array" && s.Items != nil && s.Items.Schema != nil {
		typ = "[]" + s.Items.Schema.Type
	}
	if s.Format != "" {
		typ += " (" + s.Format + ")"
	}
	var c []string
	if s.Default != nil {
		c = append(c, "default `"+string(s.Default.Raw)+"`")
	}
	if len(s.Enum) > 0 {
		var vs []string
		for _, e := range s.Enum {
			vs = append(vs, string(e.Raw))
		}
		c = append(c, "one of "+strings.Join(vs, ", "))
	}
	if s.Minimum != nil {
		c = append(c, fmt.Sprintf("min %v", *s.Minimum))
	}
	if s.Maximum != nil {
		c = append(c, fmt.Sprintf("max %v", *s.Maximum))
	}
	if s.MaxLength != nil {
		c = append(c, fmt.Sprintf("max length %d", *s.MaxLength))
	}
	if s.MinItems != nil {
		c = append(c, fmt.Sprintf("min items %d", *s.MinItems))
	}
	if s.MaxItems != nil {
		c = append(c, fmt.Sprintf("max items %d", *s.MaxItems))
	}
	if s.Pattern != "" {
		c = append(c, "pattern `"+s.Pattern+"`")
	}
	for _, v := range s.XValidations {
		c = append(c, "rule: "+v.Message)
	}
	if s.Items != nil && s.Items.Schema != nil {
		for _, v := range s.Items.Schema.XValidations {
			c = append(c, "each: "+v.Message)
		}
	}
	desc := strings.Join(strings.Fields(s.Description), " ")
	fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", path, typ, esc(desc), esc(strings.Join(c, "; ")))
}

func sortedKeys(m map[string]apiextensionsv1.JSONSchemaProps) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func esc(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "apidocs:", err)
	os.Exit(1)
}
