// SmallThinker Chat: a local, CPU-only chat app for the SmallThinker MoE models.
package main

import "smallthinker/app"

func main() { app.Main() }
