package main

var keygenCommand = command{
	name:    "keygen",
	usage:   "--dir DIR [--role appliance|approver|auditor] [--name NAME] [--passphrase-file F]",
	summary: "write a role's keys into DIR",
}

func init() { keygenCommand.run = notImplemented(&keygenCommand) }
