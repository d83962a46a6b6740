package main

var driveCommand = command{
	name:    "drive",
	usage:   "status DEV",
	summary: "show an optical drive's disc status",
}

func init() { driveCommand.run = notImplemented(&driveCommand) }
