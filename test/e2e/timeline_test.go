package e2e

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// writeTimelinePNG draws, for one hard loss per profile, which host held the VIP over time:
// a row per host, a bar where it held it, a red line at the loss.
func writeTimelinePNG(path string, results []*failoverResult) error {
	const (
		left, rowH, panelGap, width = 70, 18, 40, 900
		before, after               = time.Second, 12 * time.Second
	)
	hosts := []string{"h1", "h2", "h3"}
	colors := map[string]color.RGBA{"h1": {0x1f, 0x77, 0xb4, 0xff}, "h2": {0x2c, 0xa0, 0x2c, 0xff}, "h3": {0xff, 0x7f, 0x0e, 0xff}}
	panelH := 24 + rowH*len(hosts) + 20
	height := 30 + len(results)*(panelH+panelGap)
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), &image.Uniform{color.White}, image.Point{}, draw.Src)
	text := func(x, y int, s string, c color.Color) {
		d := &font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
		d.DrawString(s)
	}
	rect := func(x0, y0, x1, y1 int, c color.Color) {
		draw.Draw(img, image.Rect(x0, y0, x1, y1), &image.Uniform{c}, image.Point{}, draw.Src)
	}
	span := before + after
	px := func(d time.Duration) int { return left + int(float64(width-left-20)*float64(d+before)/float64(span)) }
	text(10, 18, "VIP holder per host around one hard loss of h1 (link cut, then SIGKILL) at t=0; sampled every 10 ms", color.Black)
	for i, r := range results {
		y0 := 30 + i*(panelH+panelGap)
		text(10, y0+14, r.profile, color.Black)
		for j, h := range hosts {
			y := y0 + 24 + j*rowH
			text(10, y+12, h, color.Black)
			rect(left, y+rowH-2, width-20, y+rowH-1, color.RGBA{0xdd, 0xdd, 0xdd, 0xff})
			for k, s := range r.timeline {
				t := s.At.Sub(r.timeline[0].At) - r.lossOffset
				if t < -before || t > after {
					continue
				}
				next := t + 10*time.Millisecond
				if k+1 < len(r.timeline) {
					next = r.timeline[k+1].At.Sub(r.timeline[0].At) - r.lossOffset
				}
				for _, holder := range s.Holders {
					if holder == h {
						rect(px(t), y+2, max(px(next), px(t)+1), y+rowH-3, colors[h])
					}
				}
			}
		}
		lx := px(0)
		rect(lx, y0+20, lx+2, y0+24+rowH*len(hosts), color.RGBA{0xd6, 0x27, 0x28, 0xff})
		ty := y0 + 24 + rowH*len(hosts) + 14
		for s := 0; s <= int(after/time.Second); s += 2 {
			x := px(time.Duration(s) * time.Second)
			rect(x, ty-12, x+1, ty-8, color.Black)
			text(x-4, ty+2, fmt.Sprintf("%ds", s), color.Black)
		}
		md := px(r.theory)
		rect(md, y0+20, md+1, y0+24+rowH*len(hosts), color.RGBA{0x99, 0x99, 0x99, 0xff})
		text(md+3, y0+20, "master-down", color.RGBA{0x66, 0x66, 0x66, 0xff})
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return png.Encode(f, img)
}
