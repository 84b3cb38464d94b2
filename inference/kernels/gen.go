package kernels

//go:generate sh -c "cd _asmgen && go run . -out ../kernels_amd64.s -stubs ../stubs_amd64.go -pkg kernels"
