// Demo rule set of the appliance image: the EICAR anti-malware test file (eicar.org), which the
// QEMU suite puts on a stick to prove that a match rejects the import. A site replaces this folder
// with its own rules (AIRLOCK_IMAGE_ETC=DIR make image).
rule EICAR_Test_File
{
    meta:
        description = "EICAR anti-malware test file"
    strings:
        $eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    condition:
        $eicar
}
