# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_lbcheck_global_optspecs
    string join \n h/help V/version
end

function __fish_lbcheck_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_lbcheck_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_lbcheck_using_subcommand
    set -l cmd (__fish_lbcheck_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c lbcheck -n "__fish_lbcheck_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lbcheck -n "__fish_lbcheck_needs_command" -s V -l version -d 'Print version'
complete -c lbcheck -n "__fish_lbcheck_needs_command" -f -a "pcap" -d 'Analyse capture files (pcap or pcapng), read in turn'
complete -c lbcheck -n "__fish_lbcheck_needs_command" -f -a "live" -d 'Capture live on an interface (Linux, AF_PACKET), then analyse as `pcap` does'
complete -c lbcheck -n "__fish_lbcheck_needs_command" -f -a "ranges" -d 'Print the built-in table of load-balancer and health-check source ranges, with provenance'
complete -c lbcheck -n "__fish_lbcheck_needs_command" -f -a "generate" -d 'Write the man pages or shell completions'
complete -c lbcheck -n "__fish_lbcheck_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c lbcheck -n "__fish_lbcheck_using_subcommand pcap" -l port -d 'Service port(s) to analyse; default: every port that receives SYNs (TCP) or requests (UDP)' -r
complete -c lbcheck -n "__fish_lbcheck_using_subcommand pcap" -l proto -d 'Only this transport protocol' -r -f -a "tcp\t''
udp\t''"
complete -c lbcheck -n "__fish_lbcheck_using_subcommand pcap" -l side -d 'Where the capture was taken: client, lb, backend (default: inferred, and the report says from what). With several files, FILE=SIDE for one of them (file name or path)' -r
complete -c lbcheck -n "__fish_lbcheck_using_subcommand pcap" -l vip -d 'The load balancer\'s virtual IP (the address clients connect to)' -r
complete -c lbcheck -n "__fish_lbcheck_using_subcommand pcap" -l lb-range -d 'Add a load-balancer source range, e.g. my-nlb=10.0.1.0/24 (see `lbcheck ranges`)' -r
complete -c lbcheck -n "__fish_lbcheck_using_subcommand pcap" -l trusted-lb -d 'Addresses allowed to send PROXY / X-Forwarded-For; headers from others are flagged' -r
complete -c lbcheck -n "__fish_lbcheck_using_subcommand pcap" -l expect -d 'Assert a verdict for CI, e.g. client-ip=proxy-v2, snat=no, proxy=v2, return-path=ok, no-findings=warning (nothing at or above warning). Exit 1 when one fails' -r
complete -c lbcheck -n "__fish_lbcheck_using_subcommand pcap" -l format -d 'Output format' -r -f -a "text\t''
json\t''"
complete -c lbcheck -n "__fish_lbcheck_using_subcommand pcap" -l color -d 'Colour in the text report' -r -f -a "auto\t''
always\t''
never\t''"
complete -c lbcheck -n "__fish_lbcheck_using_subcommand pcap" -l max-flows -d 'Flows summarised per file or live capture, the earliest first (about 1.5 KiB of memory each); flows beyond are counted, and the report says verdicts cover the first N' -r
complete -c lbcheck -n "__fish_lbcheck_using_subcommand pcap" -l max-open-flows -d 'Flows open at once (held per group of 1/64 of them, by address); beyond, the longest idle are summarised early and the report says so. Bounds memory in a SYN flood' -r
complete -c lbcheck -n "__fish_lbcheck_using_subcommand pcap" -l no-progress -d 'No progress bar on stderr (it is only drawn on a terminal, for files over 64 MiB)'
complete -c lbcheck -n "__fish_lbcheck_using_subcommand pcap" -l flows -d 'List everything in the text report: every flow, one-line service, path and finding (default: 20 flows, 20 services, 10 paths, 5 findings of one code, then counts)'
complete -c lbcheck -n "__fish_lbcheck_using_subcommand pcap" -s v -l verbose -d 'More detail: every flow, and the decoded first bytes of each'
complete -c lbcheck -n "__fish_lbcheck_using_subcommand pcap" -s h -l help -d 'Print help'
complete -c lbcheck -n "__fish_lbcheck_using_subcommand live" -s i -l interface -d 'Interface to capture on (`any`: every interface, as LINUX_SLL2)' -r
complete -c lbcheck -n "__fish_lbcheck_using_subcommand live" -l duration -d 'Stop after this long, e.g. 30s, 2m, 1h (a bare number is seconds)' -r
complete -c lbcheck -n "__fish_lbcheck_using_subcommand live" -l count -d 'Stop after this many packets (after the kernel filter)' -r
complete -c lbcheck -n "__fish_lbcheck_using_subcommand live" -s w -l write -d 'Also save the analysed packets to a pcap file (nanosecond timestamps)' -r -F
complete -c lbcheck -n "__fish_lbcheck_using_subcommand live" -l filter -d 'A libpcap filter expression (tcpdump syntax) instead of the one built from --port and --proto, which still choose the services analysed. Needs lbcheck built with `--features libpcap`' -r
complete -c lbcheck -n "__fish_lbcheck_using_subcommand live" -l snaplen -d 'Bytes kept per packet (enough for PROXY v2 with TLVs and the HTTP head)' -r
complete -c lbcheck -n "__fish_lbcheck_using_subcommand live" -l port -d 'Service port(s) to analyse; default: every port that receives SYNs (TCP) or requests (UDP)' -r
complete -c lbcheck -n "__fish_lbcheck_using_subcommand live" -l proto -d 'Only this transport protocol' -r -f -a "tcp\t''
udp\t''"
complete -c lbcheck -n "__fish_lbcheck_using_subcommand live" -l side -d 'Where the capture was taken: client, lb, backend (default: inferred, and the report says from what). With several files, FILE=SIDE for one of them (file name or path)' -r
complete -c lbcheck -n "__fish_lbcheck_using_subcommand live" -l vip -d 'The load balancer\'s virtual IP (the address clients connect to)' -r
complete -c lbcheck -n "__fish_lbcheck_using_subcommand live" -l lb-range -d 'Add a load-balancer source range, e.g. my-nlb=10.0.1.0/24 (see `lbcheck ranges`)' -r
complete -c lbcheck -n "__fish_lbcheck_using_subcommand live" -l trusted-lb -d 'Addresses allowed to send PROXY / X-Forwarded-For; headers from others are flagged' -r
complete -c lbcheck -n "__fish_lbcheck_using_subcommand live" -l expect -d 'Assert a verdict for CI, e.g. client-ip=proxy-v2, snat=no, proxy=v2, return-path=ok, no-findings=warning (nothing at or above warning). Exit 1 when one fails' -r
complete -c lbcheck -n "__fish_lbcheck_using_subcommand live" -l format -d 'Output format' -r -f -a "text\t''
json\t''"
complete -c lbcheck -n "__fish_lbcheck_using_subcommand live" -l color -d 'Colour in the text report' -r -f -a "auto\t''
always\t''
never\t''"
complete -c lbcheck -n "__fish_lbcheck_using_subcommand live" -l max-flows -d 'Flows summarised per file or live capture, the earliest first (about 1.5 KiB of memory each); flows beyond are counted, and the report says verdicts cover the first N' -r
complete -c lbcheck -n "__fish_lbcheck_using_subcommand live" -l max-open-flows -d 'Flows open at once (held per group of 1/64 of them, by address); beyond, the longest idle are summarised early and the report says so. Bounds memory in a SYN flood' -r
complete -c lbcheck -n "__fish_lbcheck_using_subcommand live" -l flows -d 'List everything in the text report: every flow, one-line service, path and finding (default: 20 flows, 20 services, 10 paths, 5 findings of one code, then counts)'
complete -c lbcheck -n "__fish_lbcheck_using_subcommand live" -s v -l verbose -d 'More detail: every flow, and the decoded first bytes of each'
complete -c lbcheck -n "__fish_lbcheck_using_subcommand live" -s h -l help -d 'Print help'
complete -c lbcheck -n "__fish_lbcheck_using_subcommand ranges" -l format -d 'Output format' -r -f -a "text\t''
json\t''"
complete -c lbcheck -n "__fish_lbcheck_using_subcommand ranges" -s h -l help -d 'Print help'
complete -c lbcheck -n "__fish_lbcheck_using_subcommand generate; and not __fish_seen_subcommand_from man completions help" -s h -l help -d 'Print help'
complete -c lbcheck -n "__fish_lbcheck_using_subcommand generate; and not __fish_seen_subcommand_from man completions help" -f -a "man" -d 'Man pages (lbcheck.1 and one per subcommand) into a directory'
complete -c lbcheck -n "__fish_lbcheck_using_subcommand generate; and not __fish_seen_subcommand_from man completions help" -f -a "completions" -d 'A completion script for SHELL, on standard output'
complete -c lbcheck -n "__fish_lbcheck_using_subcommand generate; and not __fish_seen_subcommand_from man completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c lbcheck -n "__fish_lbcheck_using_subcommand generate; and __fish_seen_subcommand_from man" -l out-dir -r -F
complete -c lbcheck -n "__fish_lbcheck_using_subcommand generate; and __fish_seen_subcommand_from man" -s h -l help -d 'Print help'
complete -c lbcheck -n "__fish_lbcheck_using_subcommand generate; and __fish_seen_subcommand_from completions" -s h -l help -d 'Print help'
complete -c lbcheck -n "__fish_lbcheck_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "man" -d 'Man pages (lbcheck.1 and one per subcommand) into a directory'
complete -c lbcheck -n "__fish_lbcheck_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "completions" -d 'A completion script for SHELL, on standard output'
complete -c lbcheck -n "__fish_lbcheck_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c lbcheck -n "__fish_lbcheck_using_subcommand help; and not __fish_seen_subcommand_from pcap live ranges generate help" -f -a "pcap" -d 'Analyse capture files (pcap or pcapng), read in turn'
complete -c lbcheck -n "__fish_lbcheck_using_subcommand help; and not __fish_seen_subcommand_from pcap live ranges generate help" -f -a "live" -d 'Capture live on an interface (Linux, AF_PACKET), then analyse as `pcap` does'
complete -c lbcheck -n "__fish_lbcheck_using_subcommand help; and not __fish_seen_subcommand_from pcap live ranges generate help" -f -a "ranges" -d 'Print the built-in table of load-balancer and health-check source ranges, with provenance'
complete -c lbcheck -n "__fish_lbcheck_using_subcommand help; and not __fish_seen_subcommand_from pcap live ranges generate help" -f -a "generate" -d 'Write the man pages or shell completions'
complete -c lbcheck -n "__fish_lbcheck_using_subcommand help; and not __fish_seen_subcommand_from pcap live ranges generate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c lbcheck -n "__fish_lbcheck_using_subcommand help; and __fish_seen_subcommand_from generate" -f -a "man" -d 'Man pages (lbcheck.1 and one per subcommand) into a directory'
complete -c lbcheck -n "__fish_lbcheck_using_subcommand help; and __fish_seen_subcommand_from generate" -f -a "completions" -d 'A completion script for SHELL, on standard output'
