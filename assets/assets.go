// Package assets holds data bundled into the binary with go:embed: the model
// catalog here, icons elsewhere. The headless CLI imports this package, so it
// must stay free of Fyne: expose raw bytes and let ui wrap them in resources.
package assets

import _ "embed"

// CatalogJSON is the model download catalog (see app/models.Catalog).
//
//go:embed catalog.json
var CatalogJSON []byte
