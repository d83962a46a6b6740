/*
 * airlock default rule set: one file, 158 rules, for the benchmark and the demo.
 * Written for airlock (see README.md beside this file): indicators are well-known public strings
 * (tool banners, command idioms, file markers); no third-party rule text is copied.
 */

// ---- test

rule EICAR_Test_File : test
{
  meta:
    description = "EICAR anti-malware test file (eicar.org)"
    category = "test"
    author = "airlock"
  strings:
    $s0 = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
  condition:
    $s0 at 0 and filesize < 256
}

rule EICAR_Test_String_Anywhere : test
{
  meta:
    description = "EICAR test string embedded anywhere"
    category = "test"
    author = "airlock"
  strings:
    $s0 = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE"
  condition:
    any of them
}

rule GTUBE_Spam_Test : test
{
  meta:
    description = "GTUBE spam test string (spamassassin.apache.org/gtube)"
    category = "test"
    author = "airlock"
  strings:
    $s0 = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
  condition:
    any of them
}

// ---- webshell

rule Webshell_PHP_Eval_Base64 : webshell php
{
  meta:
    description = "web shell idiom: eval(base64_decode("
    category = "webshell"
    author = "airlock"
  strings:
    $s0 = "eval(base64_decode(" nocase
  condition:
    any of them
}

rule Webshell_PHP_Eval_Gzinflate : webshell php
{
  meta:
    description = "web shell idiom: eval(gzinflate("
    category = "webshell"
    author = "airlock"
  strings:
    $s0 = "eval(gzinflate(" nocase
  condition:
    any of them
}

rule Webshell_PHP_Eval_Str_Rot13 : webshell php
{
  meta:
    description = "web shell idiom: eval(str_rot13("
    category = "webshell"
    author = "airlock"
  strings:
    $s0 = "eval(str_rot13(" nocase
  condition:
    any of them
}

rule Webshell_PHP_Eval_Post : webshell php
{
  meta:
    description = "web shell idiom: eval($_POST["
    category = "webshell"
    author = "airlock"
  strings:
    $s0 = "eval($_POST[" nocase
  condition:
    any of them
}

rule Webshell_PHP_Eval_Request : webshell php
{
  meta:
    description = "web shell idiom: eval($_REQUEST["
    category = "webshell"
    author = "airlock"
  strings:
    $s0 = "eval($_REQUEST[" nocase
  condition:
    any of them
}

rule Webshell_PHP_Assert_Request : webshell php
{
  meta:
    description = "web shell idiom: assert($_REQUEST["
    category = "webshell"
    author = "airlock"
  strings:
    $s0 = "assert($_REQUEST[" nocase
  condition:
    any of them
}

rule Webshell_PHP_System_Get : webshell php
{
  meta:
    description = "web shell idiom: system($_GET["
    category = "webshell"
    author = "airlock"
  strings:
    $s0 = "system($_GET[" nocase
  condition:
    any of them
}

rule Webshell_PHP_Passthru_Request : webshell php
{
  meta:
    description = "web shell idiom: passthru($_REQUEST["
    category = "webshell"
    author = "airlock"
  strings:
    $s0 = "passthru($_REQUEST[" nocase
  condition:
    any of them
}

rule Webshell_PHP_Shell_Exec_Post : webshell php
{
  meta:
    description = "web shell idiom: shell_exec($_POST["
    category = "webshell"
    author = "airlock"
  strings:
    $s0 = "shell_exec($_POST[" nocase
  condition:
    any of them
}

rule Webshell_PHP_Preg_Replace_E : webshell php
{
  meta:
    description = "web shell idiom: preg_replace(\"/.*/e\""
    category = "webshell"
    author = "airlock"
  strings:
    $s0 = "preg_replace(\"/.*/e\"" nocase
  condition:
    any of them
}

rule Webshell_PHP_Create_Function_Base64 : webshell php
{
  meta:
    description = "web shell idiom: create_function('', base64_decode("
    category = "webshell"
    author = "airlock"
  strings:
    $s0 = "create_function('', base64_decode(" nocase
  condition:
    any of them
}

rule Webshell_ASPX_China_Chopper : webshell aspx
{
  meta:
    description = "web shell idiom: eval(Request.Item["
    category = "webshell"
    author = "airlock"
  strings:
    $s0 = "eval(Request.Item[" nocase
  condition:
    any of them
}

rule Webshell_ASP_Execute_Request : webshell asp
{
  meta:
    description = "web shell idiom: Execute(Request("
    category = "webshell"
    author = "airlock"
  strings:
    $s0 = "Execute(Request(" nocase
  condition:
    any of them
}

rule Webshell_JSP_Runtime_Exec_Param : webshell jsp
{
  meta:
    description = "web shell idiom: Runtime.getRuntime().exec(request.getParameter("
    category = "webshell"
    author = "airlock"
  strings:
    $s0 = "Runtime.getRuntime().exec(request.getParameter(" nocase
  condition:
    any of them
}

rule Webshell_C99 : webshell
{
  meta:
    description = "c99 shell banner"
    category = "webshell"
    author = "airlock"
  strings:
    $s0 = "c99shell" nocase
    $s1 = "c99_sess_put" nocase
  condition:
    any of them
}

rule Webshell_R57 : webshell
{
  meta:
    description = "r57 shell banner"
    category = "webshell"
    author = "airlock"
  strings:
    $s0 = "r57shell" nocase
    $s1 = "r57 shell" nocase
  condition:
    any of them
}

rule Webshell_WSO : webshell
{
  meta:
    description = "WSO web shell"
    category = "webshell"
    author = "airlock"
  strings:
    $s0 = "WSO "
    $s1 = "wso_version"
    $s2 = "FilesMan"
  condition:
    2 of them
}

rule Webshell_B374k : webshell
{
  meta:
    description = "b374k shell"
    category = "webshell"
    author = "airlock"
  strings:
    $s0 = "b374k" nocase
  condition:
    any of them
}

rule Webshell_Weevely : webshell
{
  meta:
    description = "weevely agent idiom"
    category = "webshell"
    author = "airlock"
  strings:
    $s0 = "$kh=\""
    $s1 = "$kf=\""
    $s2 = "@base64_decode(@x(@gzuncompress("
  condition:
    2 of them
}

// ---- revshell

rule ReverseShell_Bash_Dev_Tcp : revshell
{
  meta:
    description = "reverse shell one-liner: bash -i >& /dev/tcp/"
    category = "revshell"
    author = "airlock"
  strings:
    $s0 = "bash -i >& /dev/tcp/"
  condition:
    any of them
}

rule ReverseShell_Sh_Dev_Tcp : revshell
{
  meta:
    description = "reverse shell one-liner: 0<&196;exec 196<>/dev/tcp/"
    category = "revshell"
    author = "airlock"
  strings:
    $s0 = "0<&196;exec 196<>/dev/tcp/"
  condition:
    any of them
}

rule ReverseShell_Netcat_Exec_Sh : revshell
{
  meta:
    description = "reverse shell one-liner: nc -e /bin/sh"
    category = "revshell"
    author = "airlock"
  strings:
    $s0 = "nc -e /bin/sh"
  condition:
    any of them
}

rule ReverseShell_Netcat_Exec_Bash : revshell
{
  meta:
    description = "reverse shell one-liner: nc -e /bin/bash"
    category = "revshell"
    author = "airlock"
  strings:
    $s0 = "nc -e /bin/bash"
  condition:
    any of them
}

rule ReverseShell_Ncat_Exec : revshell
{
  meta:
    description = "reverse shell one-liner: ncat --exec"
    category = "revshell"
    author = "airlock"
  strings:
    $s0 = "ncat --exec"
  condition:
    any of them
}

rule ReverseShell_Mkfifo_Nc : revshell
{
  meta:
    description = "reverse shell one-liner: mkfifo /tmp/f;cat /tmp/f|/bin/sh -i 2>&1|nc"
    category = "revshell"
    author = "airlock"
  strings:
    $s0 = "mkfifo /tmp/f;cat /tmp/f|/bin/sh -i 2>&1|nc"
  condition:
    any of them
}

rule ReverseShell_Socat_Exec : revshell
{
  meta:
    description = "reverse shell one-liner: socat exec:'bash -li',pty,stderr,setsid,sigint,sane tcp:"
    category = "revshell"
    author = "airlock"
  strings:
    $s0 = "socat exec:'bash -li',pty,stderr,setsid,sigint,sane tcp:"
  condition:
    any of them
}

rule ReverseShell_Python_Pty_Socket : revshell
{
  meta:
    description = "reverse shell one-liner: pty.spawn(\"/bin/sh\")"
    category = "revshell"
    author = "airlock"
  strings:
    $s0 = "pty.spawn(\"/bin/sh\")"
  condition:
    any of them
}

rule ReverseShell_Perl_Socket_Exec : revshell
{
  meta:
    description = "reverse shell one-liner: exec(\"/bin/sh -i\");};"
    category = "revshell"
    author = "airlock"
  strings:
    $s0 = "exec(\"/bin/sh -i\");};"
  condition:
    any of them
}

rule ReverseShell_PHP_Fsockopen_Sh : revshell
{
  meta:
    description = "PHP reverse shell"
    category = "revshell"
    author = "airlock"
  strings:
    $s0 = "fsockopen("
    $s1 = "/bin/sh -i"
  condition:
    all of them
}

rule ReverseShell_Ruby_TCPSocket_Exec : revshell
{
  meta:
    description = "Ruby reverse shell"
    category = "revshell"
    author = "airlock"
  strings:
    $s0 = "TCPSocket.open("
    $s1 = "exec sprintf(\"/bin/sh -i <&%d >&%d 2>&%d\""
  condition:
    all of them
}

rule ReverseShell_PowerShell_TCPClient : revshell
{
  meta:
    description = "PowerShell reverse shell"
    category = "revshell"
    author = "airlock"
  strings:
    $s0 = "New-Object System.Net.Sockets.TCPClient(" nocase
    $s1 = "GetStream()" nocase
    $s2 = "iex " nocase
  condition:
    all of them
}

// ---- downloader

rule Downloader_Curl_Pipe_Sh : downloader
{
  meta:
    description = "download-and-run: curl -s http ... | sh"
    category = "downloader"
    author = "airlock"
  strings:
    $s0 = "curl -s http"
    $s1 = "| sh"
  condition:
    all of them
}

rule Downloader_Curl_Pipe_Bash : downloader
{
  meta:
    description = "download-and-run: curl -fsSL http ... | bash"
    category = "downloader"
    author = "airlock"
  strings:
    $s0 = "curl -fsSL http"
    $s1 = "| bash"
  condition:
    all of them
}

rule Downloader_Wget_Pipe_Sh : downloader
{
  meta:
    description = "download-and-run: wget -qO- http ... | sh"
    category = "downloader"
    author = "airlock"
  strings:
    $s0 = "wget -qO- http"
    $s1 = "| sh"
  condition:
    all of them
}

rule Downloader_Wget_Chmod_Exec : downloader
{
  meta:
    description = "download-and-run: wget http ... chmod +x"
    category = "downloader"
    author = "airlock"
  strings:
    $s0 = "wget http"
    $s1 = "chmod +x"
  condition:
    all of them
}

// ---- lolbin

rule LOLBin_PowerShell_DownloadString : lolbin
{
  meta:
    description = "living-off-the-land idiom: DownloadString( + New-Object Net.WebClient"
    category = "lolbin"
    author = "airlock"
  strings:
    $s0 = "DownloadString(" ascii wide nocase
    $s1 = "New-Object Net.WebClient" ascii wide nocase
  condition:
    all of them
}

rule LOLBin_PowerShell_DownloadFile : lolbin
{
  meta:
    description = "living-off-the-land idiom: DownloadFile( + Net.WebClient"
    category = "lolbin"
    author = "airlock"
  strings:
    $s0 = "DownloadFile(" ascii wide nocase
    $s1 = "Net.WebClient" ascii wide nocase
  condition:
    all of them
}

rule LOLBin_PowerShell_EncodedCommand : lolbin
{
  meta:
    description = "living-off-the-land idiom: powershell + -EncodedCommand"
    category = "lolbin"
    author = "airlock"
  strings:
    $s0 = "powershell" ascii wide nocase
    $s1 = "-EncodedCommand" ascii wide nocase
  condition:
    all of them
}

rule LOLBin_PowerShell_Hidden_Bypass : lolbin
{
  meta:
    description = "living-off-the-land idiom: -WindowStyle Hidden + -ExecutionPolicy Bypass"
    category = "lolbin"
    author = "airlock"
  strings:
    $s0 = "-WindowStyle Hidden" ascii wide nocase
    $s1 = "-ExecutionPolicy Bypass" ascii wide nocase
  condition:
    all of them
}

rule LOLBin_Certutil_Urlcache : lolbin
{
  meta:
    description = "living-off-the-land idiom: certutil + -urlcache -split -f"
    category = "lolbin"
    author = "airlock"
  strings:
    $s0 = "certutil" ascii wide nocase
    $s1 = "-urlcache -split -f" ascii wide nocase
  condition:
    all of them
}

rule LOLBin_Bitsadmin_Transfer : lolbin
{
  meta:
    description = "living-off-the-land idiom: bitsadmin + /transfer"
    category = "lolbin"
    author = "airlock"
  strings:
    $s0 = "bitsadmin" ascii wide nocase
    $s1 = "/transfer" ascii wide nocase
  condition:
    all of them
}

rule LOLBin_Mshta_Http : lolbin
{
  meta:
    description = "living-off-the-land idiom: mshta + http"
    category = "lolbin"
    author = "airlock"
  strings:
    $s0 = "mshta" ascii wide nocase
    $s1 = "http" ascii wide nocase
  condition:
    all of them
}

rule LOLBin_Regsvr32_Squiblydoo : lolbin
{
  meta:
    description = "living-off-the-land idiom: regsvr32 + scrobj.dll"
    category = "lolbin"
    author = "airlock"
  strings:
    $s0 = "regsvr32" ascii wide nocase
    $s1 = "scrobj.dll" ascii wide nocase
  condition:
    all of them
}

rule LOLBin_Rundll32_Javascript : lolbin
{
  meta:
    description = "living-off-the-land idiom: rundll32 + javascript:"
    category = "lolbin"
    author = "airlock"
  strings:
    $s0 = "rundll32" ascii wide nocase
    $s1 = "javascript:" ascii wide nocase
  condition:
    all of them
}

rule LOLBin_WMIC_Process_Call_Create : lolbin
{
  meta:
    description = "living-off-the-land idiom: wmic + process call create"
    category = "lolbin"
    author = "airlock"
  strings:
    $s0 = "wmic" ascii wide nocase
    $s1 = "process call create" ascii wide nocase
  condition:
    all of them
}

// ---- miner

rule Miner_Stratum_URL : miner
{
  meta:
    description = "stratum mining pool URL"
    category = "miner"
    author = "airlock"
  strings:
    $s0 = "stratum+tcp://" nocase
    $s1 = "stratum+ssl://" nocase
    $s2 = "stratum2+tcp://" nocase
  condition:
    any of them
}

rule Miner_XMRig : miner
{
  meta:
    description = "XMRig miner strings"
    category = "miner"
    author = "airlock"
  strings:
    $s0 = "xmrig"
    $s1 = "--donate-level"
    $s2 = "randomx"
  condition:
    2 of them
}

rule Miner_Cryptonight_Config : miner
{
  meta:
    description = "cryptonight miner configuration"
    category = "miner"
    author = "airlock"
  strings:
    $s0 = "\"algo\""
    $s1 = "cryptonight"
    $s2 = "\"pools\""
  condition:
    all of them
}

rule Miner_Known_Pools : miner
{
  meta:
    description = "well-known Monero pool host names"
    category = "miner"
    author = "airlock"
  strings:
    $s0 = "pool.minexmr.com" nocase
    $s1 = "xmr.pool.minergate.com" nocase
    $s2 = "pool.supportxmr.com" nocase
    $s3 = "xmr-eu1.nanopool.org" nocase
    $s4 = "monerohash.com" nocase
  condition:
    any of them
}

rule Miner_CPUMiner : miner
{
  meta:
    description = "cpuminer/minerd strings"
    category = "miner"
    author = "airlock"
  strings:
    $s0 = "minerd"
    $s1 = "cpuminer"
    $s2 = "--url=stratum"
  condition:
    2 of them
}

// ---- tool

rule Tool_Mimikatz : tool mimikatz
{
  meta:
    description = "Mimikatz strings"
    category = "tool"
    author = "airlock"
  strings:
    $s0 = "sekurlsa::logonpasswords"
    $s1 = "gentilkiwi"
    $s2 = "mimikatz"
    $s3 = "kerberos::golden"
    $s4 = "lsadump::sam"
  condition:
    2 of them
}

rule Tool_Mimikatz_Wide : tool mimikatz
{
  meta:
    description = "mimikatz (UTF-16 strings)"
    category = "tool"
    author = "airlock"
  strings:
    $s0 = "sekurlsa::" ascii wide nocase
    $s1 = "mimikatz" ascii wide nocase
    $s2 = "gentilkiwi" ascii wide nocase
  condition:
    2 of them
}

rule Tool_Meterpreter : tool metasploit
{
  meta:
    description = "Meterpreter strings"
    category = "tool"
    author = "airlock"
  strings:
    $s0 = "metsrv"
    $s1 = "ReflectiveLoader"
    $s2 = "stdapi_sys_process_execute"
    $s3 = "core_channel_open"
  condition:
    2 of them
}

rule Tool_Metasploit_Payload_Template : tool metasploit
{
  meta:
    description = "Metasploit_Payload_Template strings"
    category = "tool"
    author = "airlock"
  strings:
    $s0 = "PAYLOAD:"
    $s1 = "msfvenom"
    $s2 = "Metasploit"
  condition:
    2 of them
}

rule Tool_CobaltStrike_Beacon : tool cobaltstrike
{
  meta:
    description = "CobaltStrike_Beacon strings"
    category = "tool"
    author = "airlock"
  strings:
    $s0 = "%s as %s\\%s: %d"
    $s1 = "beacon.dll"
    $s2 = "beacon.x64.dll"
    $s3 = "%02d/%02d/%02d %02d:%02d:%02d"
  condition:
    2 of them
}

rule Tool_CobaltStrike_Pipe : tool cobaltstrike
{
  meta:
    description = "CobaltStrike_Pipe strings"
    category = "tool"
    author = "airlock"
  strings:
    $s0 = "\\\\.\\pipe\\MSSE-"
    $s1 = "\\\\.\\pipe\\msagent_"
    $s2 = "\\\\.\\pipe\\postex_"
  condition:
    any of them
}

rule Tool_PowerSploit : tool powersploit
{
  meta:
    description = "PowerSploit strings"
    category = "tool"
    author = "airlock"
  strings:
    $s0 = "Invoke-Mimikatz"
    $s1 = "Invoke-ReflectivePEInjection"
    $s2 = "Invoke-Shellcode"
    $s3 = "Get-GPPPassword"
    $s4 = "Invoke-TokenManipulation"
  condition:
    any of them
}

rule Tool_Empire : tool empire
{
  meta:
    description = "Empire strings"
    category = "tool"
    author = "airlock"
  strings:
    $s0 = "Invoke-Empire"
    $s1 = "Start-Negotiate"
    $s2 = "$Script:ControlServers"
  condition:
    any of them
}

rule Tool_SharpHound : tool bloodhound
{
  meta:
    description = "SharpHound strings"
    category = "tool"
    author = "airlock"
  strings:
    $s0 = "SharpHound"
    $s1 = "BloodHound"
    $s2 = "CollectionMethod"
  condition:
    2 of them
}

rule Tool_Rubeus : tool rubeus
{
  meta:
    description = "Rubeus strings"
    category = "tool"
    author = "airlock"
  strings:
    $s0 = "Rubeus"
    $s1 = "asktgt"
    $s2 = "s4u"
    $s3 = "kerberoast"
  condition:
    3 of them
}

rule Tool_LaZagne : tool lazagne
{
  meta:
    description = "LaZagne strings"
    category = "tool"
    author = "airlock"
  strings:
    $s0 = "lazagne"
    $s1 = "LaZagne"
    $s2 = "laZagne.py"
  condition:
    any of them
}

rule Tool_Impacket_Secretsdump : tool impacket
{
  meta:
    description = "Impacket_Secretsdump strings"
    category = "tool"
    author = "airlock"
  strings:
    $s0 = "secretsdump"
    $s1 = "impacket"
    $s2 = "DRSUAPI"
  condition:
    2 of them
}

rule Tool_PsExec_Service : tool psexec
{
  meta:
    description = "PsExec_Service strings"
    category = "tool"
    author = "airlock"
  strings:
    $s0 = "PSEXESVC"
    $s1 = "PsExec"
  condition:
    all of them
}

rule Tool_Chisel_Tunnel : tool tunnel
{
  meta:
    description = "Chisel_Tunnel strings"
    category = "tool"
    author = "airlock"
  strings:
    $s0 = "chisel"
    $s1 = "jpillora/chisel"
    $s2 = "R:socks"
  condition:
    2 of them
}

rule Tool_Ligolo_Tunnel : tool tunnel
{
  meta:
    description = "Ligolo_Tunnel strings"
    category = "tool"
    author = "airlock"
  strings:
    $s0 = "ligolo"
    $s1 = "nicocha30/ligolo-ng"
  condition:
    any of them
}

rule Tool_Ngrok_Agent : tool tunnel
{
  meta:
    description = "Ngrok_Agent strings"
    category = "tool"
    author = "airlock"
  strings:
    $s0 = "ngrok"
    $s1 = "tunnel.us.ngrok.com"
  condition:
    all of them
}

rule Tool_Responder : tool responder
{
  meta:
    description = "Responder strings"
    category = "tool"
    author = "airlock"
  strings:
    $s0 = "Responder"
    $s1 = "NBT-NS, LLMNR & MDNS"
  condition:
    all of them
}

rule Tool_Hydra_Bruteforce : tool bruteforce
{
  meta:
    description = "Hydra_Bruteforce strings"
    category = "tool"
    author = "airlock"
  strings:
    $s0 = "THC-Hydra"
    $s1 = "hydra -l"
  condition:
    any of them
}

rule Tool_JuicyPotato : tool privesc
{
  meta:
    description = "JuicyPotato strings"
    category = "tool"
    author = "airlock"
  strings:
    $s0 = "JuicyPotato"
    $s1 = "juicy-potato"
  condition:
    any of them
}

rule Tool_PrintSpoofer : tool privesc
{
  meta:
    description = "PrintSpoofer strings"
    category = "tool"
    author = "airlock"
  strings:
    $s0 = "PrintSpoofer"
    $s1 = "\\pipe\\spoolss"
  condition:
    2 of them
}

rule Tool_LinPEAS : tool recon
{
  meta:
    description = "LinPEAS strings"
    category = "tool"
    author = "airlock"
  strings:
    $s0 = "linpeas"
    $s1 = "LinPEAS"
    $s2 = "peass-ng"
  condition:
    any of them
}

rule Tool_WinPEAS : tool recon
{
  meta:
    description = "WinPEAS strings"
    category = "tool"
    author = "airlock"
  strings:
    $s0 = "winPEAS"
    $s1 = "WinPEAS"
  condition:
    any of them
}

rule Tool_Nishang : tool nishang
{
  meta:
    description = "Nishang strings"
    category = "tool"
    author = "airlock"
  strings:
    $s0 = "Invoke-PowerShellTcp"
    $s1 = "nishang"
  condition:
    any of them
}

rule Tool_SILENTTRINITY : tool c2
{
  meta:
    description = "SILENTTRINITY strings"
    category = "tool"
    author = "airlock"
  strings:
    $s0 = "SILENTTRINITY"
    $s1 = "boo-lang"
  condition:
    all of them
}

rule Tool_Sliver_Implant : tool c2
{
  meta:
    description = "Sliver_Implant strings"
    category = "tool"
    author = "airlock"
  strings:
    $s0 = "sliverpb"
    $s1 = "bishopfox/sliver"
  condition:
    any of them
}

rule Tool_Covenant_Grunt : tool c2
{
  meta:
    description = "Covenant_Grunt strings"
    category = "tool"
    author = "airlock"
  strings:
    $s0 = "Covenant"
    $s1 = "GruntStager"
  condition:
    all of them
}

rule Tool_Merlin_Agent : tool c2
{
  meta:
    description = "Merlin_Agent strings"
    category = "tool"
    author = "airlock"
  strings:
    $s0 = "Ne0nd0g/merlin"
    $s1 = "merlin-agent"
  condition:
    any of them
}

rule Tool_Mythic_Apfell : tool c2
{
  meta:
    description = "Mythic_Apfell strings"
    category = "tool"
    author = "airlock"
  strings:
    $s0 = "apfell"
    $s1 = "Mythic C2"
  condition:
    all of them
}

// ---- ransomware

rule Ransom_Generic_Note : ransomware
{
  meta:
    description = "ransom note text"
    category = "ransomware"
    author = "airlock"
  strings:
    $s0 = "your files have been encrypted" nocase
    $s1 = "all your files are encrypted" nocase
    $s2 = "to decrypt your files" nocase
  condition:
    any of them
}

rule Ransom_Onion_Bitcoin_Note : ransomware
{
  meta:
    description = "ransom note with onion and bitcoin"
    category = "ransomware"
    author = "airlock"
  strings:
    $s0 = ".onion" nocase
    $s1 = "bitcoin" nocase
    $s2 = "decrypt" nocase
  condition:
    all of them and filesize < 64KB
}

rule Ransom_WannaCry : ransomware
{
  meta:
    description = "WannaCry"
    category = "ransomware"
    author = "airlock"
  strings:
    $s0 = "WanaCrypt0r"
    $s1 = "WNcry@2ol7"
    $s2 = "tasksche.exe"
    $s3 = "@WanaDecryptor@"
  condition:
    2 of them
}

rule Ransom_Ryuk : ransomware
{
  meta:
    description = "Ryuk"
    category = "ransomware"
    author = "airlock"
  strings:
    $s0 = "RyukReadMe"
    $s1 = "No system is safe"
    $s2 = "UNIQUE_ID_DO_NOT_REMOVE"
  condition:
    any of them
}

rule Ransom_LockBit : ransomware
{
  meta:
    description = "LockBit"
    category = "ransomware"
    author = "airlock"
  strings:
    $s0 = "Restore-My-Files.txt"
    $s1 = "LockBit"
    $s2 = "lockbitsupp"
  condition:
    2 of them
}

rule Ransom_Conti : ransomware
{
  meta:
    description = "Conti"
    category = "ransomware"
    author = "airlock"
  strings:
    $s0 = "CONTI_README"
    $s1 = "conti_news"
    $s2 = "YOUR SYSTEM IS LOCKED BY CONTI"
  condition:
    any of them
}

rule Ransom_REvil : ransomware
{
  meta:
    description = "REvil/Sodinokibi"
    category = "ransomware"
    author = "airlock"
  strings:
    $s0 = "-readme.txt"
    $s1 = "sodinokibi"
    $s2 = "Sodin"
  condition:
    2 of them
}

rule Ransom_Petya : ransomware
{
  meta:
    description = "Petya/NotPetya"
    category = "ransomware"
    author = "airlock"
  strings:
    $s0 = "Ooops, your important files are encrypted"
    $s1 = "wowsmith123456@posteo.net"
  condition:
    any of them
}

rule Ransom_Locky : ransomware
{
  meta:
    description = "Locky"
    category = "ransomware"
    author = "airlock"
  strings:
    $s0 = "_Locky_recover_instructions"
    $s1 = "*.locky"
  condition:
    any of them
}

rule Ransom_CryptoLocker : ransomware
{
  meta:
    description = "CryptoLocker"
    category = "ransomware"
    author = "airlock"
  strings:
    $s0 = "CryptoLocker"
    $s1 = "Your personal files are encrypted"
  condition:
    all of them
}

rule Ransom_GandCrab : ransomware
{
  meta:
    description = "GandCrab"
    category = "ransomware"
    author = "airlock"
  strings:
    $s0 = "GANDCRAB"
    $s1 = "KRAB-DECRYPT.txt"
    $s2 = "gandcrab"
  condition:
    any of them
}

rule Ransom_Maze : ransomware
{
  meta:
    description = "Maze"
    category = "ransomware"
    author = "airlock"
  strings:
    $s0 = "DECRYPT-FILES.txt"
    $s1 = "Maze Ransomware"
  condition:
    any of them
}

rule Ransom_BlackCat : ransomware
{
  meta:
    description = "BlackCat/ALPHV"
    category = "ransomware"
    author = "airlock"
  strings:
    $s0 = "RECOVER-${EXTENSION}-FILES.txt"
    $s1 = "ALPHV"
  condition:
    any of them
}

rule Ransom_Hive : ransomware
{
  meta:
    description = "Hive"
    category = "ransomware"
    author = "airlock"
  strings:
    $s0 = "HOW_TO_DECRYPT.txt"
    $s1 = "hivecust"
  condition:
    all of them
}

rule Ransom_Linux_Ransom_Esxi : ransomware
{
  meta:
    description = "ESXi ransomware idioms"
    category = "ransomware"
    author = "airlock"
  strings:
    $s0 = "esxcli vm process kill"
    $s1 = "vim-cmd vmsvc/getallvms"
    $s2 = ".vmdk"
  condition:
    all of them
}

rule Ransom_Shadow_Copy_Delete : ransomware
{
  meta:
    description = "shadow copy deletion"
    category = "ransomware"
    author = "airlock"
  strings:
    $s0 = "vssadmin delete shadows" nocase
    $s1 = "wmic shadowcopy delete" nocase
    $s2 = "wbadmin delete catalog" nocase
    $s3 = "bcdedit /set {default} recoveryenabled no" nocase
  condition:
    any of them
}

// ---- exploit

rule Exploit_Log4Shell : exploit
{
  meta:
    description = "Log4Shell JNDI lookup"
    category = "exploit"
    author = "airlock"
  strings:
    $s0 = "${jndi:ldap://" nocase
    $s1 = "${jndi:rmi://" nocase
    $s2 = "${jndi:dns://" nocase
    $s3 = "${${lower:j}ndi:" nocase
  condition:
    any of them
}

rule Exploit_Shellshock : exploit
{
  meta:
    description = "Shellshock function definition"
    category = "exploit"
    author = "airlock"
  strings:
    $s0 = "() { :;};"
    $s1 = "() { :; };"
  condition:
    any of them
}

rule Exploit_Spring4Shell : exploit
{
  meta:
    description = "Spring4Shell class loader payload"
    category = "exploit"
    author = "airlock"
  strings:
    $s0 = "class.module.classLoader.resources.context.parent.pipeline.first"
  condition:
    any of them
}

rule Exploit_Dirty_Pipe : exploit
{
  meta:
    description = "Dirty Pipe PoC idioms"
    category = "exploit"
    author = "airlock"
  strings:
    $s0 = "splice("
    $s1 = "PIPE_BUF_FLAG_CAN_MERGE"
  condition:
    all of them
}

rule Exploit_PwnKit : exploit
{
  meta:
    description = "PwnKit (CVE-2021-4034) idioms"
    category = "exploit"
    author = "airlock"
  strings:
    $s0 = "GCONV_PATH="
    $s1 = "pkexec"
    $s2 = "CHARSET="
  condition:
    all of them
}

rule Exploit_Sudo_Baron_Samedit : exploit
{
  meta:
    description = "Baron Samedit (CVE-2021-3156) idioms"
    category = "exploit"
    author = "airlock"
  strings:
    $s0 = "sudoedit -s"
    $s1 = "\\\\"
  condition:
    all of them and filesize < 1MB
}

// ---- shellcode

rule Shellcode_x86_Execve_Binsh : shellcode
{
  meta:
    description = "classic x86 execve(/bin/sh) shellcode"
    category = "shellcode"
    author = "airlock"
  strings:
    $s0 = { 31 c0 50 68 2f 2f 73 68 68 2f 62 69 6e 89 e3 }
  condition:
    any of them
}

rule Shellcode_x64_Execve_Binsh : shellcode
{
  meta:
    description = "x86-64 execve(/bin/sh) shellcode"
    category = "shellcode"
    author = "airlock"
  strings:
    $s0 = { 48 31 d2 48 bb 2f 2f 62 69 6e 2f 73 68 }
  condition:
    any of them
}

rule Shellcode_Metasploit_Block_API : shellcode
{
  meta:
    description = "Metasploit block_api hash loop"
    category = "shellcode"
    author = "airlock"
  strings:
    $s0 = { 60 89 e5 31 (c0|d2) 64 8b ?? 30 }
  condition:
    any of them
}

rule Shellcode_NOP_Sled_Exec : shellcode
{
  meta:
    description = "long NOP sled followed by a call"
    category = "shellcode"
    author = "airlock"
  strings:
    $s0 = { 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 e8 }
  condition:
    any of them
}

// ---- persistence

rule Linux_LD_Preload_Write : persistence
{
  meta:
    description = "writes /etc/ld.so.preload"
    category = "persistence"
    author = "airlock"
  strings:
    $s0 = "/etc/ld.so.preload"
  condition:
    any of them and uint32(0) != 0x464c457f
}

rule Linux_SSH_Key_Implant : persistence
{
  meta:
    description = "script appending to authorized_keys"
    category = "persistence"
    author = "airlock"
  strings:
    $s0 = ">> ~/.ssh/authorized_keys"
    $s1 = ">>/root/.ssh/authorized_keys"
  condition:
    any of them
}

rule Linux_Cron_Persistence : persistence
{
  meta:
    description = "script installing a cron job that downloads"
    category = "persistence"
    author = "airlock"
  strings:
    $s0 = "crontab -l"
    $s1 = "curl"
    $s2 = "| crontab -"
  condition:
    all of them
}

rule Linux_Hidden_Dev_Shm_Exec : persistence
{
  meta:
    description = "executes from a hidden /dev/shm or /tmp directory"
    category = "persistence"
    author = "airlock"
  strings:
    $s0 = "/dev/shm/."
    $s1 = "/tmp/.X11-unix/."
    $s2 = "chmod 777"
  condition:
    2 of them
}

// ---- rootkit

rule Linux_Rootkit_Diamorphine : rootkit
{
  meta:
    description = "Diamorphine LKM"
    category = "rootkit"
    author = "airlock"
  strings:
    $s0 = "diamorphine"
    $s1 = "module_hide"
    $s2 = "hacked_kill"
  condition:
    2 of them
}

rule Linux_Rootkit_Reptile : rootkit
{
  meta:
    description = "Reptile LKM"
    category = "rootkit"
    author = "airlock"
  strings:
    $s0 = "reptile"
    $s1 = "/reptile/reptile_cmd"
    $s2 = "KHOOK"
  condition:
    2 of them
}

rule Linux_Rootkit_Azazel : rootkit
{
  meta:
    description = "Azazel LD_PRELOAD rootkit"
    category = "rootkit"
    author = "airlock"
  strings:
    $s0 = "azazel"
    $s1 = "HIDE_TERM_VAR"
    $s2 = "CLEANUP_LOGS"
  condition:
    2 of them
}

rule Linux_Rootkit_Jynx : rootkit
{
  meta:
    description = "Jynx LD_PRELOAD rootkit"
    category = "rootkit"
    author = "airlock"
  strings:
    $s0 = "jynx"
    $s1 = "XxJynx"
  condition:
    any of them
}

// ---- botnet

rule Linux_Mirai : botnet
{
  meta:
    description = "Mirai bot strings"
    category = "botnet"
    author = "airlock"
  strings:
    $s0 = "/bin/busybox MIRAI"
    $s1 = "MIRAI"
    $s2 = "LZRD"
  condition:
    2 of them
}

rule Linux_Gafgyt : botnet
{
  meta:
    description = "Gafgyt/Bashlite bot strings"
    category = "botnet"
    author = "airlock"
  strings:
    $s0 = "PING"
    $s1 = "HTTPFLOOD"
    $s2 = "UDPRAW"
    $s3 = "gafgyt"
  condition:
    3 of them
}

rule Linux_XorDDoS : botnet
{
  meta:
    description = "XOR.DDoS strings"
    category = "botnet"
    author = "airlock"
  strings:
    $s0 = "BB2FA36AAA9541F0"
    $s1 = "/lib/libudev.so"
  condition:
    all of them
}

rule Linux_Tsunami_Kaiten : botnet
{
  meta:
    description = "Tsunami/Kaiten IRC bot"
    category = "botnet"
    author = "airlock"
  strings:
    $s0 = "NOTICE %s :"
    $s1 = "KILLALL"
    $s2 = "PAN <target>"
  condition:
    2 of them
}

rule Linux_Kinsing : botnet miner
{
  meta:
    description = "Kinsing loader"
    category = "botnet"
    author = "airlock"
  strings:
    $s0 = "kinsing"
    $s1 = "kdevtmpfsi"
  condition:
    any of them
}

rule Linux_TeamTNT : botnet
{
  meta:
    description = "TeamTNT scripts"
    category = "botnet"
    author = "airlock"
  strings:
    $s0 = "TeamTNT"
    $s1 = "teamtnt"
    $s2 = "borg.wtf"
  condition:
    any of them
}

// ---- packer

rule Packer_UPX_PE : packer
{
  meta:
    description = "UPX-packed PE"
    category = "packer"
    author = "airlock"
  strings:
    $s0 = "UPX0"
    $s1 = "UPX1"
    $s2 = "UPX!"
  condition:
    uint16(0) == 0x5a4d and 2 of them
}

rule Packer_UPX_ELF : packer
{
  meta:
    description = "UPX-packed ELF"
    category = "packer"
    author = "airlock"
  strings:
    $s0 = "UPX!"
    $s1 = "$Info: This file is packed with the UPX executable packer"
  condition:
    uint32(0) == 0x464c457f and any of them
}

rule Packer_MPRESS : packer
{
  meta:
    description = "MPRESS-packed PE"
    category = "packer"
    author = "airlock"
  strings:
    $s0 = ".MPRESS1"
    $s1 = ".MPRESS2"
  condition:
    uint16(0) == 0x5a4d and any of them
}

rule Packer_ASPack : packer
{
  meta:
    description = "ASPack-packed PE"
    category = "packer"
    author = "airlock"
  strings:
    $s0 = ".aspack"
    $s1 = ".adata"
  condition:
    uint16(0) == 0x5a4d and all of them
}

rule Packer_Themida : packer
{
  meta:
    description = "Themida/WinLicense"
    category = "packer"
    author = "airlock"
  strings:
    $s0 = ".themida"
    $s1 = ".winlice"
  condition:
    uint16(0) == 0x5a4d and any of them
}

rule Packer_PECompact : packer
{
  meta:
    description = "PECompact"
    category = "packer"
    author = "airlock"
  strings:
    $s0 = "PEC2TO"
    $s1 = "PECompact2"
  condition:
    uint16(0) == 0x5a4d and any of them
}

rule Packer_Petite : packer
{
  meta:
    description = "Petite"
    category = "packer"
    author = "airlock"
  strings:
    $s0 = ".petite"
  condition:
    uint16(0) == 0x5a4d and any of them
}

// ---- maldoc

rule Office_AutoOpen_Shell : maldoc
{
  meta:
    description = "macro running a shell on open"
    category = "maldoc"
    author = "airlock"
  strings:
    $s0 = "AutoOpen" nocase
    $s1 = "Document_Open" nocase
    $s2 = "Workbook_Open" nocase
    $s3 = "Shell(" nocase
    $s4 = "WScript.Shell" nocase
  condition:
    1 of ($s0,$s1,$s2) and 1 of ($s3,$s4)
}

rule Office_Macro_Download : maldoc
{
  meta:
    description = "macro that downloads"
    category = "maldoc"
    author = "airlock"
  strings:
    $s0 = "MSXML2.XMLHTTP" nocase
    $s1 = "ADODB.Stream" nocase
    $s2 = "SaveToFile" nocase
    $s3 = "Auto_Open" nocase
  condition:
    3 of them
}

rule RTF_Equation_Editor : maldoc
{
  meta:
    description = "RTF with Equation Editor object (CVE-2017-11882)"
    category = "maldoc"
    author = "airlock"
  strings:
    $s0 = "{\\rtf" nocase
    $s1 = "Equation.3" nocase
    $s2 = "objdata" nocase
  condition:
    all of them
}

rule PDF_Launch_Action : maldoc
{
  meta:
    description = "PDF launching a program"
    category = "maldoc"
    author = "airlock"
  strings:
    $s0 = "%PDF"
    $s1 = "/Launch"
    $s2 = "/Action"
  condition:
    $s0 at 0 and $s1 and $s2
}

rule PDF_JavaScript_OpenAction : maldoc
{
  meta:
    description = "PDF running JavaScript on open"
    category = "maldoc"
    author = "airlock"
  strings:
    $s0 = "%PDF"
    $s1 = "/OpenAction"
    $s2 = "/JavaScript"
  condition:
    $s0 at 0 and $s1 and $s2
}

// ---- script

rule JS_Packer_Eval : script
{
  meta:
    description = "Dean Edwards packer eval"
    category = "script"
    author = "airlock"
  strings:
    $s0 = "eval(function(p,a,c,k,e,"
  condition:
    any of them
}

rule JS_Unescape_DocWrite : script
{
  meta:
    description = "document.write(unescape("
    category = "script"
    author = "airlock"
  strings:
    $s0 = "document.write(unescape(" nocase
  condition:
    any of them
}

rule JS_WScript_Shell_Run : script
{
  meta:
    description = "JScript running commands"
    category = "script"
    author = "airlock"
  strings:
    $s0 = "WScript.CreateObject(\"WScript.Shell\")" nocase
    $s1 = ".Run(" nocase
    $s2 = "ActiveXObject" nocase
  condition:
    2 of them
}

rule VBS_Execute_Chr_Chain : script
{
  meta:
    description = "VBScript executing a Chr() chain"
    category = "script"
    author = "airlock"
  strings:
    $s0 = /Execute\s*\(?\s*Chr\(\d+\)\s*&\s*Chr\(\d+\)/ nocase
  condition:
    any of them
}

rule HTA_Script_Shell : script
{
  meta:
    description = "HTA application running a shell"
    category = "script"
    author = "airlock"
  strings:
    $s0 = "<hta:application" nocase
    $s1 = "WScript.Shell" nocase
  condition:
    all of them
}

// ---- supplychain

rule Python_Exec_Base64 : supplychain
{
  meta:
    description = "python exec of base64"
    category = "supplychain"
    author = "airlock"
  strings:
    $s0 = "exec(base64.b64decode("
    $s1 = "exec(__import__('base64').b64decode("
    $s2 = "exec(zlib.decompress(base64"
  condition:
    any of them
}

rule Python_Setup_Download_Exec : supplychain
{
  meta:
    description = "setup.py that downloads and runs code"
    category = "supplychain"
    author = "airlock"
  strings:
    $s0 = "setup("
    $s1 = "urllib.request.urlopen("
    $s2 = "exec("
  condition:
    all of them and filesize < 200KB
}

rule NPM_Postinstall_Curl : supplychain
{
  meta:
    description = "npm postinstall hook fetching code"
    category = "supplychain"
    author = "airlock"
  strings:
    $s0 = "\"postinstall\""
    $s1 = "curl "
  condition:
    all of them and filesize < 64KB
}

rule NPM_Discord_Token_Stealer : supplychain stealer
{
  meta:
    description = "token stealer targeting Discord"
    category = "supplychain"
    author = "airlock"
  strings:
    $s0 = "discord" nocase
    $s1 = "Local Storage\\leveldb" nocase
    $s2 = "webhooks" nocase
  condition:
    all of them
}

// ---- stealer

rule Stealer_Browser_Credentials : stealer
{
  meta:
    description = "reads browser credential stores"
    category = "stealer"
    author = "airlock"
  strings:
    $s0 = "Login Data"
    $s1 = "Cookies"
    $s2 = "Local State"
    $s3 = "wallet.dat"
  condition:
    3 of them
}

rule Stealer_Crypto_Wallets : stealer
{
  meta:
    description = "enumerates crypto wallet extensions"
    category = "stealer"
    author = "airlock"
  strings:
    $s0 = "nkbihfbeogaeaoehlefnkodbefgpgknn"
    $s1 = "Electrum"
    $s2 = "Exodus"
    $s3 = "MetaMask"
  condition:
    3 of them
}

// ---- keylogger

rule Keylogger_SetWindowsHook : keylogger
{
  meta:
    description = "Windows keylogger API set"
    category = "keylogger"
    author = "airlock"
  strings:
    $s0 = "SetWindowsHookExA"
    $s1 = "GetAsyncKeyState"
    $s2 = "GetForegroundWindow"
  condition:
    uint16(0) == 0x5a4d and all of them
}

// ---- injector

rule Injector_CreateRemoteThread : injector
{
  meta:
    description = "classic PE process injection API set"
    category = "injector"
    author = "airlock"
  strings:
    $s0 = "VirtualAllocEx"
    $s1 = "WriteProcessMemory"
    $s2 = "CreateRemoteThread"
  condition:
    uint16(0) == 0x5a4d and all of them
}

rule Injector_Process_Hollowing : injector
{
  meta:
    description = "process hollowing API set"
    category = "injector"
    author = "airlock"
  strings:
    $s0 = "NtUnmapViewOfSection"
    $s1 = "SetThreadContext"
    $s2 = "ResumeThread"
    $s3 = "WriteProcessMemory"
  condition:
    uint16(0) == 0x5a4d and all of them
}

// ---- evasion

rule AntiAnalysis_VM_Checks : evasion
{
  meta:
    description = "checks for analysis VMs"
    category = "evasion"
    author = "airlock"
  strings:
    $s0 = "vboxservice.exe" nocase
    $s1 = "vmtoolsd.exe" nocase
    $s2 = "VBoxMouse.sys" nocase
    $s3 = "vmware tools" nocase
    $s4 = "sbiedll.dll" nocase
  condition:
    3 of them
}

rule AntiAnalysis_Debugger_Checks : evasion
{
  meta:
    description = "debugger checks"
    category = "evasion"
    author = "airlock"
  strings:
    $s0 = "IsDebuggerPresent"
    $s1 = "CheckRemoteDebuggerPresent"
    $s2 = "NtQueryInformationProcess"
    $s3 = "OutputDebugStringA"
  condition:
    uint16(0) == 0x5a4d and all of them
}

// ---- dropper

rule PE_In_Non_PE : dropper
{
  meta:
    description = "embedded PE with DOS stub after the start of a file"
    category = "dropper"
    author = "airlock"
  strings:
    $s0 = "This program cannot be run in DOS mode"
  condition:
    uint16(0) != 0x5a4d and #s0 >= 1 and filesize < 50MB and not uint32(0) == 0x464c457f and not uint32(0) == 0x04034b50
}

rule ELF_In_Script : dropper
{
  meta:
    description = "shell script with an embedded ELF"
    category = "dropper"
    author = "airlock"
  strings:
    $s0 = "#!/bin/sh"
    $s1 = { 7f 45 4c 46 02 01 01 }
  condition:
    $s0 at 0 and $s1
}

rule Base64_PE_Header : dropper
{
  meta:
    description = "base64-encoded PE header"
    category = "dropper"
    author = "airlock"
  strings:
    $s0 = "TVqQAAMAAAAEAAAA"
    $s1 = "TVpQAAIAAAAEAA8A"
    $s2 = "TVoAAAAAAAAAAAAA"
  condition:
    any of them
}

rule Base64_ELF_Header : dropper
{
  meta:
    description = "base64-encoded ELF header"
    category = "dropper"
    author = "airlock"
  strings:
    $s0 = "f0VMRgIBAQAAAAAAAAAAAA"
    $s1 = "f0VMRgEBAQAAAAAAAAAAAA"
  condition:
    any of them
}

rule Hex_Encoded_PE : dropper
{
  meta:
    description = "hex-encoded PE header"
    category = "dropper"
    author = "airlock"
  strings:
    $s0 = "4d5a90000300000004000000ffff0000" nocase
  condition:
    any of them
}

// ---- c2

rule Suspicious_Tor_Hidden_Service_Config : c2
{
  meta:
    description = "Tor hidden-service configuration inside a payload"
    category = "c2"
    author = "airlock"
  strings:
    $s0 = "HiddenServiceDir"
    $s1 = "HiddenServicePort"
    $s2 = "SocksPort"
  condition:
    all of them and filesize < 1MB
}

rule Suspicious_Pastebin_Raw_Fetch : c2
{
  meta:
    description = "fetches code from a paste site"
    category = "c2"
    author = "airlock"
  strings:
    $s0 = "pastebin.com/raw/" nocase
    $s1 = "paste.ee/r/" nocase
    $s2 = "hastebin.com/raw/" nocase
  condition:
    any of them
}

rule Suspicious_Discord_CDN_Payload : c2
{
  meta:
    description = "fetches a payload from Discord's CDN"
    category = "c2"
    author = "airlock"
  strings:
    $s0 = "cdn.discordapp.com/attachments/" nocase
  condition:
    any of them and filesize < 5MB
}

rule Suspicious_Telegram_Bot_Exfil : c2
{
  meta:
    description = "exfiltrates through the Telegram bot API"
    category = "c2"
    author = "airlock"
  strings:
    $s0 = "api.telegram.org/bot" nocase
    $s1 = "sendDocument" nocase
  condition:
    all of them
}

