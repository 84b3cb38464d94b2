#!/usr/bin/env python3
"""Independent, deliberately simple reference of llama.cpp's qwen2 byte-level BPE
(string merges by rank, the backtracking `regex` module for the pre-tokenizer,
special tokens split longest first). It first checks itself against the
reference engine's tokenizer-cases.jsonl, then writes random-cases.jsonl: mixed
texts (words, scripts, emoji, digits, whitespace runs, special-token text) and
their ids on the real vocabulary, for random_test in reference_test.go.
Run from this folder: python3 ref_bpe.py [SEED [COUNT]]"""
import json, struct, random, regex, sys
SHARED='../../../../shared/testdata'
d=open(SHARED+'/models/tiny-fullvocab-sigmoid-q4_0.gguf','rb').read(6000000)
pos=4
def rd(fmt):
    global pos
    v=struct.unpack_from(fmt,d,pos); pos+=struct.calcsize(fmt); return v[0]
def rs():
    global pos
    n=rd('<Q'); s=d[pos:pos+n]; pos+=n; return s.decode('utf-8')
sizes={0:'<B',1:'<b',2:'<H',3:'<h',4:'<I',5:'<i',6:'<f',7:'<?',10:'<Q',11:'<q',12:'<d'}
def val(t):
    if t==8: return rs()
    if t==9:
        et=rd('<I'); n=rd('<Q'); return [val(et) for _ in range(n)]
    return rd(sizes[t])
ver=rd('<I'); nt=rd('<Q'); nkv=rd('<Q')
kv={}
for i in range(nkv):
    k=rs(); t=rd('<I'); kv[k]=val(t)
toks=kv['tokenizer.ggml.tokens']; types=kv['tokenizer.ggml.token_type']; merges=kv['tokenizer.ggml.merges']
tid={t:i for i,t in enumerate(toks)}
ranks={}
for i,m in enumerate(merges):
    a,b=m.split(' ',1)
    ranks.setdefault((a,b),i)
bs=list(range(ord("!"),ord("~")+1))+list(range(ord("¡"),ord("¬")+1))+list(range(ord("®"),ord("ÿ")+1))
cs=bs[:]; n=0
for b in range(256):
    if b not in bs: bs.append(b); cs.append(256+n); n+=1
b2u={b:chr(c) for b,c in zip(bs,cs)}
PAT=regex.compile(r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
specials=sorted([i for i,t in enumerate(types) if t in (2,3,4)], key=lambda i:-len(toks[i]))
def bpe(word):
    syms=[b2u[b] for b in word.encode()]
    while len(syms)>1:
        best=None
        for i in range(len(syms)-1):
            r=ranks.get((syms[i],syms[i+1]))
            if r is not None and (best is None or r<best[0]): best=(r,i)
        if best is None: break
        i=best[1]; syms[i:i+2]=[syms[i]+syms[i+1]]
    return [tid[s] for s in syms]
def encode(text, special):
    frags=[(text,None)]
    for sid in specials:
        if not special and types[sid]!=4: continue
        sp=toks[sid]; out=[]
        for f,tk in frags:
            if tk is not None: out.append((f,tk)); continue
            parts=f.split(sp)
            for j,p in enumerate(parts):
                if p: out.append((p,None))
                if j<len(parts)-1: out.append((sp,sid))
        frags=out
    ids=[]
    for f,tk in frags:
        if tk is not None: ids.append(tk); continue
        for w in PAT.findall(f): ids+=bpe(w)
    return ids
PIECES=["the"," the","The","hello"," world","Hello",",",".","!","?"," ","  ","   ","\t","\n","\n\n","\r\n"," \n","\u00a0","\u3000",
 "it's","I'm","don't","they'll","WE'RE","'","\"","(",")","[","]","{","}","<",">","/","\\","-","_","=","+","*","&","%","$","#","@","~","`","^","|",
 "0","1","42","2026","3.14","1e-10","²","½","٣","日本語","你好","世界","，","。","テキスト","한국어","Привет","мир","مرحبا","שלום","naïve","café","Straße","Ünïcödé",
 "😀","🚀","👨‍👩‍👧","🇫🇷","∑","≤","→","€","¥","\u200b","\u0301","e\u0301",
 "<|im_start|>","<|im_end|>","<|endoftext|>","<think>","</think>","<tool_call>","<|im_start","|im_end|>","<|","|>","<|fim_pad|>",
 "def","return","func","main()","    ","\t\t","for (int i = 0; i < n; i++)","https://example.com/a?b=c","user@example.com",
 "Supercalifragilistic","antidisestablishmentarianism","aaaaaaaa","zzzz","!!!!","....","----","====","ABCDEFG","camelCase","snake_case"]
rng=random.Random(int(sys.argv[1]) if len(sys.argv)>1 else 1)
cases=[]
for k in range(int(sys.argv[2]) if len(sys.argv)>2 else 300):
    t="".join(rng.choice(PIECES) for _ in range(rng.randint(1,25)))
    sp=rng.random()<0.5
    cases.append({"text":t,"parse_special":sp,"ids":encode(t,sp)})
with open('random-cases.jsonl','w') as f:
    for c in cases: f.write(json.dumps(c,ensure_ascii=False)+"\n")
# sanity: reproduce the reference cases
bad=0
for l in open(SHARED+'/tokenizer-cases.jsonl'):
    c=json.loads(l)
    if encode(c['text'],c['parse_special'])!=c['ids']: bad+=1; print("PYREF MISMATCH",repr(c['text']))
print("python ref vs golden mismatches:",bad, "generated", len(cases))
