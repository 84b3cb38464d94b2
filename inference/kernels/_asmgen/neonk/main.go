// Command neonk writes kquants_arm64.s, the NEON K-quant kernels:
//
//	cd inference/kernels/_asmgen && go run ./neonk -out ../kquants_arm64.s
//
// avo has no arm64 backend, so the kernels are Go assembler text; the
// instructions Go's assembler lacks (SDOT, MLA by element, SCVTF, ...) are
// written in GNU syntax and assembled to WORDs with aarch64-linux-gnu-as and
// objdump (GNU binutils for aarch64, needed only to regenerate the file).
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

type line struct {
	kind string // "go", "gnu", "label", "raw"
	text string
}

var body []line

func g(f string, a ...any)   { body = append(body, line{"go", fmt.Sprintf(f, a...)}) }
func gnu(f string, a ...any) { body = append(body, line{"gnu", fmt.Sprintf(f, a...)}) }
func label(s string)         { body = append(body, line{"label", s}) }
func raw(s string)           { body = append(body, line{"raw", s}) }

// hsum8 leaves in F20 the AVX2-order sum of V20:V21 (lo+hi, movehl, movehdup).
func hsum8() {
	gnu("fadd v20.4s, v20.4s, v21.4s")
	gnu("ext v5.16b, v20.16b, v20.16b, #8")
	gnu("fadd v20.4s, v20.4s, v5.4s")
	gnu("faddp s20, v20.2s")
}

// header starts a gemv kernel: R0 w row, R1 rowBytes, R2 x, R3 nb, R4 out,
// R5 rows left; V31 = 0x0F bytes.
func header(name, doc string) {
	raw("")
	raw(fmt.Sprintf("// func %s(w []byte, rowBytes int, x []byte, nb int, out []float32)", name))
	raw(doc)
	raw(fmt.Sprintf("TEXT ·%s(SB), NOSPLIT, $0-88", name))
	g("MOVD w_base+0(FP), R0")
	g("MOVD rowBytes+24(FP), R1")
	g("MOVD x_base+32(FP), R2")
	g("MOVD nb+56(FP), R3")
	g("MOVD out_base+64(FP), R4")
	g("MOVD out_len+72(FP), R5")
	g("VMOVI $15, V31.B16")
}

// rowLoop emits the row and super-block loops (R6/R7 w/x cursors, R8
// blocks left); the 8-lane accumulator is V20:V21.
func rowLoop(p string, wBlock int, clear, block, store func()) {
	label(p + "row")
	g("CBZ R5, %sdone", p)
	g("MOVD R0, R6")
	g("MOVD R2, R7")
	g("MOVD R3, R8")
	g("VEOR V20.B16, V20.B16, V20.B16")
	g("VEOR V21.B16, V21.B16, V21.B16")
	clear()
	label(p + "block")
	g("CBZ R8, %sstore", p)
	block()
	g("ADD $%d, R6", wBlock)
	g("ADD $292, R7")
	g("SUB $1, R8")
	g("B %sblock", p)
	label(p + "store")
	hsum8()
	store()
	g("FMOVS F20, (R4)")
	g("ADD $4, R4")
	g("ADD R1, R0")
	g("SUB $1, R5")
	g("B %srow", p)
	label(p + "done")
	g("RET")
}

// q45k emits the Q4_K (q5 false) or Q5_K kernel.
func q45k(q5 bool) {
	name, p, wBlock, qsOff := "gemvQ4_KQ8_KNEON", "q4k", 144, 16
	doc := "// Q4_K super-blocks (144 bytes) × Q8_K; mins in the 4-lane V22."
	if q5 {
		name, p, wBlock, qsOff = "gemvQ5_KQ8_KNEON", "q5k", 176, 48
		doc = "// Q5_K super-blocks (176 bytes) × Q8_K; the mins' scalar sum in S22."
	}
	header(name, doc)
	if q5 {
		g("VMOVI $1, V30.B16")
	}
	rowLoop(p, wBlock, func() {
		g("VEOR V22.B16, V22.B16, V22.B16")
	}, func() {
		raw("\t// d = x.d·w.d, dmin = x.d·w.dmin (positive; FMLS/FMSUB subtract)")
		g("MOVHU (R6), R11")
		g("FMOVS R11, F16")
		g("FCVTHS F16, F16")
		g("MOVHU 2(R6), R11")
		g("FMOVS R11, F17")
		g("FCVTHS F17, F17")
		g("FMOVS (R7), F18")
		g("FMULS F18, F16, F16")
		g("FMULS F18, F17, F17")
		g("VDUP V16.S[0], V16.S4")
		g("VDUP V17.S[0], V17.S4")
		raw("\t// 6-bit scales and mins (ggml's utmp shuffle): R12 sc0-3, R14 sc4-7, R13 mn0-3, R15 mn4-7")
		g("MOVWU 4(R6), R12")
		g("MOVWU 8(R6), R13")
		g("MOVWU 12(R6), R14")
		g("LSRW $4, R14, R15")
		g("ANDW $0x0f0f0f0f, R15")
		g("LSRW $6, R13, R19")
		g("ANDW $0x03030303, R19")
		g("LSLW $4, R19, R19")
		g("ORRW R19, R15, R15")
		g("ANDW $0x3f3f3f3f, R13")
		g("ANDW $0x0f0f0f0f, R14")
		g("LSRW $6, R12, R19")
		g("ANDW $0x03030303, R19")
		g("LSLW $4, R19, R19")
		g("ORRW R19, R14, R14")
		g("ANDW $0x3f3f3f3f, R12")
		g("VMOV R12, V0.S[0]")
		g("VMOV R14, V0.S[1]")
		g("VMOV R13, V0.S[2]")
		g("VMOV R15, V0.S[3]")
		g("VUXTL V0.B8, V1.H8")
		g("VUXTL2 V0.B16, V2.H8")
		g("VUXTL V1.H4, V3.S4")
		g("VUXTL2 V1.H8, V4.S4")
		raw("\t// mins: lane k = mn[2k]·(bs[4k]+bs[4k+1]) + mn[2k+1]·(bs[4k+2]+bs[4k+3])")
		g("ADD $260, R7, R11")
		g("VLD1 (R11), [V5.H8, V6.H8]")
		g("VADDP V6.H8, V5.H8, V7.H8")
		gnu("smull v8.4s, v2.4h, v7.4h")
		gnu("smull2 v9.4s, v2.8h, v7.8h")
		gnu("addp v10.4s, v8.4s, v9.4s")
		if q5 {
			gnu("addv s10, v10.4s")
			gnu("scvtf s10, s10")
			gnu("fmsub s22, s10, s17, s22")
			g("ADD $16, R6, R11")
			g("VLD1 (R11), [V14.B16, V15.B16]")
		} else {
			gnu("scvtf v10.4s, v10.4s")
			g("VFMLS V17.S4, V10.S4, V22.S4")
		}
		g("VEOR V11.B16, V11.B16, V11.B16")
		g("VEOR V12.B16, V12.B16, V12.B16")
		g("ADD $4, R7, R11")
		g("ADD $%d, R6, R19", qsOff)
		sreg := func(c int) int { return 3 + c/4 }
		for j := 0; j < 4; j++ {
			raw("\t// values 64j..64j+63: low nibbles × scale 2j, high × 2j+1")
			g("VLD1.P 32(R19), [V24.B16, V25.B16]")
			g("VLD1.P 64(R11), [V26.B16, V27.B16, V28.B16, V29.B16]")
			g("VAND V31.B16, V24.B16, V0.B16")
			g("VAND V31.B16, V25.B16, V1.B16")
			g("VUSHR $4, V24.B16, V2.B16")
			g("VUSHR $4, V25.B16, V5.B16")
			if q5 {
				for h, regs := range [][2]int{{0, 1}, {2, 5}} {
					c := 2*j + h
					if c == 0 {
						g("VAND V30.B16, V14.B16, V18.B16")
						g("VAND V30.B16, V15.B16, V19.B16")
					} else {
						g("VUSHR $%d, V14.B16, V18.B16", c)
						g("VUSHR $%d, V15.B16, V19.B16", c)
						g("VAND V30.B16, V18.B16, V18.B16")
						g("VAND V30.B16, V19.B16, V19.B16")
					}
					g("VSHL $4, V18.B16, V18.B16")
					g("VSHL $4, V19.B16, V19.B16")
					g("VORR V18.B16, V%d.B16, V%d.B16", regs[0], regs[0])
					g("VORR V19.B16, V%d.B16, V%d.B16", regs[1], regs[1])
				}
			}
			for _, r := range []int{8, 9, 10, 13} {
				g("VEOR V%d.B16, V%d.B16, V%d.B16", r, r, r)
			}
			gnu("sdot v8.4s, v0.16b, v26.16b")
			gnu("sdot v9.4s, v1.16b, v27.16b")
			gnu("sdot v10.4s, v2.16b, v28.16b")
			gnu("sdot v13.4s, v5.16b, v29.16b")
			c0, c1 := 2*j, 2*j+1
			gnu("mla v11.4s, v8.4s, v%d.s[%d]", sreg(c0), c0%4)
			gnu("mla v12.4s, v9.4s, v%d.s[%d]", sreg(c0), c0%4)
			gnu("mla v11.4s, v10.4s, v%d.s[%d]", sreg(c1), c1%4)
			gnu("mla v12.4s, v13.4s, v%d.s[%d]", sreg(c1), c1%4)
		}
		gnu("scvtf v11.4s, v11.4s")
		gnu("scvtf v12.4s, v12.4s")
		g("VFMLA V16.S4, V11.S4, V20.S4")
		g("VFMLA V16.S4, V12.S4, V21.S4")
	}, func() {
		if !q5 {
			gnu("ext v5.16b, v22.16b, v22.16b, #8")
			gnu("fadd v22.4s, v22.4s, v5.4s")
			gnu("faddp s22, v22.2s")
		}
		g("FADDS F22, F20, F20")
	})
}

// q6k emits the Q6_K kernel.
func q6k() {
	header("gemvQ6_KQ8_KNEON", "// Q6_K super-blocks (210 bytes) × Q8_K.")
	g("VMOVI $3, V30.B16")
	g("VMOVI $32, V19.B16")
	rowLoop("q6k", 210, func() {}, func() {
		g("MOVHU 208(R6), R11")
		g("FMOVS R11, F16")
		g("FCVTHS F16, F16")
		g("FMOVS (R7), F18")
		g("FMULS F18, F16, F16")
		g("VDUP V16.S[0], V16.S4")
		raw("\t// the 16 int8 scales as int32: V3 0-3, V4 4-7, V6 8-11, V7 12-15")
		g("ADD $192, R6, R11")
		g("VLD1 (R11), [V0.B16]")
		gnu("sxtl v1.8h, v0.8b")
		gnu("sxtl2 v2.8h, v0.16b")
		gnu("sxtl v3.4s, v1.4h")
		gnu("sxtl2 v4.4s, v1.8h")
		gnu("sxtl v6.4s, v2.4h")
		gnu("sxtl2 v7.4s, v2.8h")
		g("VEOR V11.B16, V11.B16, V11.B16")
		g("VEOR V12.B16, V12.B16, V12.B16")
		g("MOVD R6, R19")
		g("ADD $128, R6, R13")
		g("ADD $4, R7, R11")
		sreg := []int{3, 4, 6, 7}
		for j := 0; j < 2; j++ {
			g("VLD1.P 64(R19), [V24.B16, V25.B16, V26.B16, V27.B16]")
			g("VLD1.P 32(R13), [V28.B16, V29.B16]")
			for l := 0; l < 4; l++ {
				raw("\t// values 128j+32l..+31: ql nibble | qh bits 2l,2l+1 << 4, minus 32")
				g("VLD1.P 32(R11), [V8.B16, V9.B16]")
				s0, s1 := 24, 25
				if l%2 == 1 {
					s0, s1 = 26, 27
				}
				if l < 2 {
					g("VAND V31.B16, V%d.B16, V0.B16", s0)
					g("VAND V31.B16, V%d.B16, V1.B16", s1)
				} else {
					g("VUSHR $4, V%d.B16, V0.B16", s0)
					g("VUSHR $4, V%d.B16, V1.B16", s1)
				}
				if l == 0 {
					g("VAND V30.B16, V28.B16, V2.B16")
					g("VAND V30.B16, V29.B16, V5.B16")
				} else {
					g("VUSHR $%d, V28.B16, V2.B16", 2*l)
					g("VUSHR $%d, V29.B16, V5.B16", 2*l)
					g("VAND V30.B16, V2.B16, V2.B16")
					g("VAND V30.B16, V5.B16, V5.B16")
				}
				g("VSHL $4, V2.B16, V2.B16")
				g("VSHL $4, V5.B16, V5.B16")
				g("VORR V2.B16, V0.B16, V0.B16")
				g("VORR V5.B16, V1.B16, V1.B16")
				g("VSUB V19.B16, V0.B16, V0.B16")
				g("VSUB V19.B16, V1.B16, V1.B16")
				g("VEOR V10.B16, V10.B16, V10.B16")
				g("VEOR V13.B16, V13.B16, V13.B16")
				gnu("sdot v10.4s, v0.16b, v8.16b")
				gnu("sdot v13.4s, v1.16b, v9.16b")
				c := 4*j + l
				a, b := 2*c, 2*c+1
				gnu("mla v11.4s, v10.4s, v%d.s[%d]", sreg[a/4], a%4)
				gnu("mla v12.4s, v13.4s, v%d.s[%d]", sreg[b/4], b%4)
			}
		}
		gnu("scvtf v11.4s, v11.4s")
		gnu("scvtf v12.4s, v12.4s")
		g("VFMLA V16.S4, V11.S4, V20.S4")
		g("VFMLA V16.S4, V12.S4, V21.S4")
	}, func() {})
}

// assemble returns the instruction word of each GNU-syntax line.
func assemble(lines []string) []string {
	dir, err := os.MkdirTemp("", "neonk")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	src, obj := filepath.Join(dir, "k.s"), filepath.Join(dir, "k.o")
	if err := os.WriteFile(src, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		log.Fatal(err)
	}
	if out, err := exec.Command("aarch64-linux-gnu-as", "-march=armv8.2-a+dotprod", "-o", obj, src).CombinedOutput(); err != nil {
		log.Fatalf("aarch64-linux-gnu-as: %v\n%s", err, out)
	}
	dump, err := exec.Command("aarch64-linux-gnu-objdump", "-d", obj).Output()
	if err != nil {
		log.Fatalf("aarch64-linux-gnu-objdump: %v", err)
	}
	re := regexp.MustCompile(`^\s+[0-9a-f]+:\s+([0-9a-f]{8})\s`)
	var words []string
	sc := bufio.NewScanner(bytes.NewReader(dump))
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			words = append(words, m[1])
		}
	}
	if len(words) != len(lines) {
		log.Fatalf("assembled %d words from %d lines", len(words), len(lines))
	}
	return words
}

const preamble = `// Code generated by command: go run ./neonk -out ../kquants_arm64.s (in _asmgen). DO NOT EDIT.

//go:build !purego

#include "textflag.h"

// K-quant gemv kernels for arm64 (NEON + SDOT), bit-identical to the amd64
// ones (and so to ggml's AVX2 kernels and quant's references): per
// 256-value super-block, 8 int32 lanes (SDOT sums 4 consecutive products per
// lane, the grouping of VPMADDUBSW+VPMADDWD), each 16-value group times its
// scale (MLA by element), one SCVTF and one FMLA with d into the 8-lane
// accumulator V20:V21; the mins go to a 4-lane accumulator (Q4_K, FMLS:
// fused like VFNMADD) or a scalar (Q5_K, FMSUB), added after the AVX2-order
// horizontal sum. Integer arithmetic is exact, so only the float steps need
// to match.
//
// Instructions Go's assembler lacks are WORDs; the comment of each is its
// GNU as spelling (-march=armv8.2-a+dotprod), from which it was assembled.`

func main() {
	out := flag.String("out", "kquants_arm64.s", "output file")
	flag.Parse()
	q45k(false)
	q45k(true)
	q6k()
	var gnuLines []string
	for _, l := range body {
		if l.kind == "gnu" {
			gnuLines = append(gnuLines, l.text)
		}
	}
	words := assemble(gnuLines)
	var b strings.Builder
	b.WriteString(preamble + "\n")
	for _, l := range body {
		switch l.kind {
		case "go":
			b.WriteString("\t" + l.text + "\n")
		case "gnu":
			fmt.Fprintf(&b, "\tWORD $0x%s // %s\n", words[0], l.text)
			words = words[1:]
		case "label":
			b.WriteString("\n" + l.text + ":\n")
		default:
			b.WriteString(l.text + "\n")
		}
	}
	if err := os.WriteFile(*out, []byte(b.String()), 0o644); err != nil {
		log.Fatal(err)
	}
}
