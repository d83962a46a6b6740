package main

var allowCommand = command{
	name:    "allow",
	usage:   "--key APPROVER_KEY --out ALLOWLIST FILE...",
	summary: "add files to an approver-signed hash allowlist",
}

func init() { allowCommand.run = notImplemented(&allowCommand) }
