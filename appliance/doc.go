// Package appliance is the operator station: it validates the policy, performs the boot duties
// of the u-root uinit, and runs the event loop that turns device events and operator input into
// import, sanitize and check-disc jobs, shown on the console and on LEDs and recorded in the audit log.
//
// # Using it
//
// cmd/airlock's `run` subcommand loads the policy (package appliance/policy), performs the boot
// duties when it is the appliance's uinit (BootDuties: with --boot, or implied when its parent is
// PID 1), wires the real parts with Wire (MediaDevices, ScanImporter, KeySealer, TLog,
// DriveBurner, MediaWiper, SealChecker over media, scanner, guix, sealing, sealing/auditlog and
// burner) and calls Station.Run. Everything the station needs from those packages is a small
// interface in this package (Devices, Importer, Sealer, AuditLog, Burner, Wiper, DiscChecker), so
// the state machine is unit-tested on its own and the real parts are exercised end to end by the
// hwtest suite (cmd/airlock/run_test.go).
//
// Host mode, for tests and `make demo`:
//
//	airlock run --config POLICY --root SYSROOT --allow-loop [--loop-dir DIR]
//
// runs the same station on a normal host: loop devices whose backing file lies under DIR
// (default SYSROOT) are the sticks, SYSROOT/sys/class/leds is a fake LED tree (created for the
// policy's LED names), burn.drive = "stdio:DIR/" burns through xorriso into DIR/SESSION.iso, the
// line view goes to stdout and answers come from stdin (end of input stops the station), and
// sanitization certificates are also copied to SYSROOT/certificates.
//
// # Operator flows
//
// Import: stick in -> operator ID -> mode -> READING (one read: hash + YARA + RAM spool) ->
// VERDICT (every rejected file and reason) -> SEALING (SHA256SUMS + signature + audit append,
// checkpoint and proofs) -> INSERT-DISC -> BURNING -> READBACK -> PASS, then the offer to sanitize
// the stick. Sanitize: stick in -> identity shown -> operator ID -> CONFIRM-WIPE (type the last 4
// characters of the serial, or of the size in bytes when the stick has no serial) -> WIPING ->
// FORMATTING (reformat + signed certificate) -> PASS. Check disc: disc (or ISO9660 medium) in ->
// CHECKING (seal, hashes, audit consistency) -> PASS or FAIL.
//
// Every failure (an error, a rejected file, a stick pulled mid-job, a read-back mismatch) ends the
// job in FAIL with the reason, writes an audit record and returns the station to READY. Nothing is
// burned from bytes that were not hashed, scanned and approved in the same read: the burner only
// ever sees the RAM spool filled by that read. At most one job runs at a time; a device inserted
// while busy is queued (and dropped from the queue if it is removed) and announced with
// `airlock: device queued ...`.
//
// # Line view contract (serial console and stdout in host mode)
//
// The line view is what expect-style tests and the QEMU suite read; it is a stable interface.
// Every line the station prints starts with "airlock: " and is one of:
//
//	airlock: station <NAME> modes <m1,m2,...>   once at start
//	airlock: state <STATE>                       on every state change, nothing after STATE
//	airlock: prompt <id>: <question>             then the station waits for one answer line
//	airlock: device <event> <dev> <identity>     event: add, remove, change, queued, refused, ignored
//	airlock: usb unauthorized <vid:pid> <classes>
//	airlock: progress <pct>% <done>/<total> <rate>/s eta <duration>   (throttled, ~1/s)
//	airlock: approved <path> <sha256>
//	airlock: rejected <path>: <reason>
//	airlock: verdict <APPROVED|REJECTED> <n> approved <m> rejected
//	airlock: output <kind> <path>                kind: image, log, certificate, checkpoint
//	airlock: info <free text>
//	airlock: led <name> <on|off|blink>           every LED change (also in the sysfs tree)
//	airlock: PASS <summary>
//	airlock: FAIL <reason>
//
// STATE is one of BOOT, READY, READING, VERDICT, SEALING, INSERT-DISC, BURNING, READBACK, PASS,
// FAIL, CONFIRM-WIPE, WIPING, FORMATTING, CHECKING. A job's end is always `airlock: PASS ...` or
// `airlock: FAIL ...`, followed by `airlock: state READY`; after an import (PASS or FAIL) the
// `sanitize-after-import` prompt comes between them when the policy offers it, and a "yes" runs
// the sanitize flow (CONFIRM-WIPE ...) on the same stick, ending in its own PASS or FAIL. <dev> is
// always the device node (/dev/sdb, /dev/loop3, /dev/sr0).
//
// Prompt ids and their answers (one line on stdin or the serial line, surrounding blanks ignored):
//
//	operator               any non-empty ID of at most 64 printable characters without spaces
//	                       (3 tries, then FAIL)
//	mode                   import | sanitize | check (asked only when the policy allows several;
//	                       an optical disc is always checked)
//	confirm-wipe           the last 4 characters of the serial (or of the size in bytes when the
//	                       device has no serial); anything else cancels the wipe (FAIL)
//	sanitize-after-import  yes | no (after an import's PASS or FAIL, when sanitize.after_import =
//	                       "ask" and the stick is still in)
//	passphrase             the key passphrase, before the station starts (keys.passphrase = true;
//	                       not echoed on a terminal)
//
// Waiting for a blank disc is not a prompt: in INSERT-DISC the station polls the drive every
// second and prints `airlock: info insert a blank disc` once. The order of one import, as the
// QEMU and hwtest suites expect it:
//
//	airlock: device add /dev/sdb bus=usb id=0781:5567 vendor=... serial=... size=...
//	airlock: prompt operator: operator ID for /dev/sdb?
//	airlock: prompt mode: mode for /dev/sdb? (import | sanitize | check)
//	airlock: state READING
//	airlock: progress ...
//	airlock: state VERDICT
//	airlock: approved <path> <sha256>          (or: airlock: rejected <path>: <reason>)
//	airlock: verdict APPROVED 2 approved 0 rejected
//	airlock: state SEALING
//	airlock: state INSERT-DISC
//	airlock: state BURNING
//	airlock: state READBACK
//	airlock: state PASS
//	airlock: output image <path or drive>
//	airlock: output log <log dir>
//	airlock: PASS disc <session>: <n> file(s), <bytes> bytes, sha256 <hex>, log index <i>; remove the disc
//	airlock: prompt sanitize-after-import: sanitize /dev/sdb now? (yes/no)
//	airlock: state READY
//
// A rejected import prints its rejected lines and verdict, then `airlock: state FAIL` and
// `airlock: FAIL rejected: <m> of <n> file(s) not approved`. A stick pulled mid-read ends in
// `airlock: FAIL reading <dev>: <dev>: device removed ...`. The `device` line's identity is
// space-separated key=value pairs (bus, id, vendor, model, serial, size, optical, fs; spaces
// inside values become '_').
// An answer given while no prompt is pending is reported as `airlock: info ignored input` and
// dropped. The bell (BEL, 0x07) is written on attention (a prompt) and on FAIL; it is a separate
// byte before the line, never inside it.
//
// The full-screen view (tty1) shows the same facts: station and mode, the current job and state, a
// progress bar with rate and ETA, the verdict with every rejected file and reason, and the prompt.
//
// # LEDs
//
// LEDs are /sys/class/leds entries named in the policy ([leds] ready, busy, attention, pass, fail);
// on a stock PC they are the keyboard lock LEDs (input*::numlock, ::capslock, ::scrolllock). The
// mapping an operator sees:
//
//	ready      on: insert a stick or a disc
//	busy       blinking (timer trigger): working, do not remove anything
//	attention  on: the console asks something (operator ID, confirmation, insert a disc)
//	pass       on: the job succeeded; take the disc or stick
//	fail       on: the job failed; the reason is on the console; destroy the disc if one was burned
//
// After a job, ready comes back on and pass or fail stays lit beside it until the next device is
// inserted, so an operator who looked away still sees the outcome. Several signals may share one
// physical LED (the keyboard has three): it is lit when any of its signals is, and blinks when
// busy is one of them. In VERDICT, INSERT-DISC and CONFIRM-WIPE busy blinks together with
// attention. Every change is also printed as `airlock: led <signal> <on|off|blink>`.
package appliance
