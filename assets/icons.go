package assets

import _ "embed"

// IconPNG is the app icon (512×512), also named in FyneApp.toml. The ui
// wraps it in a Fyne resource; this package stays free of Fyne.
//
//go:embed icon.png
var IconPNG []byte
