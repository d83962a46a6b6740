package main

var isoCommand = command{
	name:    "iso",
	usage:   "--out IMAGE|- [--label L] [--epoch UNIX] DIR",
	summary: "build a deterministic ISO9660 + Rock Ridge image",
}

func init() { isoCommand.run = notImplemented(&isoCommand) }
