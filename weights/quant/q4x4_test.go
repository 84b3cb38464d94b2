package quant

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func TestQ4_0x4RoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		rows, nb int
		paired   bool
	}{{4, 1, false}, {8, 3, false}, {12, 48, false}, {4, 24, true}, {16, 2, true}, {20, 5, true}, {8, 3, true}, {12, 48, true}} {
		rowBytes := tc.nb * Q4_0Bytes
		orig := make([]byte, tc.rows*rowBytes)
		for i := range orig {
			orig[i] = byte(r.UintN(256))
		}
		data := bytes.Clone(orig)
		if err := PackQ4_0x4(data, tc.rows, rowBytes, tc.paired); err != nil {
			t.Fatal(err)
		}
		// Block b of row 4g+i: scale at 2i, nibbles at 8+16i of the group's
		// block b, which is the pair's block b's first (g even) or second
		// half, or (an odd last group) on its own.
		for row := 0; row < tc.rows; row++ {
			got := make([]byte, rowBytes)
			Q4_0x4Row(data, tc.rows, row, rowBytes, tc.paired, got)
			if want := orig[row*rowBytes : (row+1)*rowBytes]; !bytes.Equal(got, want) {
				t.Fatalf("%d×%d: row %d reads back %x, want %x", tc.rows, tc.nb, row, got, want)
			}
			g, i := row/4, row%4
			for b := 0; b < tc.nb; b++ {
				off := g/2*8*rowBytes + b*2*Q4_0x4Group + g%2*Q4_0x4Group
				if !tc.paired || g == tc.rows/4-1 && g%2 == 0 {
					off = g*4*rowBytes + b*Q4_0x4Group
				}
				blk := data[off:]
				src := orig[row*rowBytes+b*Q4_0Bytes:]
				if blk[2*i] != src[0] || blk[2*i+1] != src[1] || !bytes.Equal(blk[8+16*i:24+16*i], src[2:18]) {
					t.Fatalf("%d×%d: row %d block %d is not where the layout puts it", tc.rows, tc.nb, row, b)
				}
			}
		}
		if err := UnpackQ4_0x4(data, tc.rows, rowBytes, tc.paired); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, orig) {
			t.Fatalf("%d×%d: unpack(pack(x)) != x", tc.rows, tc.nb)
		}
	}
}

func TestQ4_0x4Rejects(t *testing.T) {
	for _, tc := range []struct{ rows, rowBytes, n int }{{3, 18, 54}, {4, 17, 68}, {4, 18, 71}, {0, 18, 0}} {
		if err := PackQ4_0x4(make([]byte, tc.n), tc.rows, tc.rowBytes, true); err == nil {
			t.Errorf("PackQ4_0x4(%d rows of %d bytes, %d bytes) = nil, want an error", tc.rows, tc.rowBytes, tc.n)
		}
	}
}

func BenchmarkPackQ4_0x4(b *testing.B) {
	rows, rowBytes := 768, 48*Q4_0Bytes
	data := make([]byte, rows*rowBytes)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := PackQ4_0x4(data, rows, rowBytes, true); err != nil {
			b.Fatal(err)
		}
	}
}
