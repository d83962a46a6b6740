package main

var burnCommand = command{
	name:    "burn",
	usage:   "--drive /dev/srN|stdio:FILE IMAGE",
	summary: "burn an image to write-once media and read it back",
}

func init() { burnCommand.run = notImplemented(&burnCommand) }
