package main

var lsCommand = command{
	name:    "ls",
	usage:   "[--hash] DEVICE|IMAGE",
	summary: "list the files of a stick or image, read in userspace without mounting",
}

func init() { lsCommand.run = notImplemented(&lsCommand) }
