// Package appliance is the operator station: it validates the policy, performs the boot duties
// of the u-root uinit, and runs the event loop that turns device events and operator input into
// import, sanitize and check-disc jobs, shown on the console and on LEDs and recorded in the audit log.
package appliance
