package main

var devicesCommand = command{
	name:    "devices",
	usage:   "[--watch] [--json]",
	summary: "list (or watch) block devices with identity and guard verdict",
}

func init() { devicesCommand.run = notImplemented(&devicesCommand) }
