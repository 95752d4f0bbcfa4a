# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by guest/interop.sh (phase "idle"): what an idle reader costs
# over libusb (issue 14), counted by the kernel, not by uccid.
#   wake-ups  the context switches of every thread of the process
#             (/proc/PID/task/*/status), over IDLE_SECS seconds of nothing
#   URBs      usbmon's record of the interrupt-IN pipe over the same window:
#             submissions, and completions with -ECONNRESET / -ENOENT
#             (an URB a driver unlinked: libusb_cancel_transfer)
# for `uccid watch` on one virtual reader (vhci-hcd) and on QEMU's reader
# (xHCI), and for pcscd with uccid's bundle and with libccid holding every
# reader.  Results: rec idle BY CHECK ...; the figures per idle
# reader-minute also go to /hilout/idle.txt, the wake-ups per thread to
# /hilout/idle-threads-NAME.txt.
IDLE_SECS=${IDLE_SECS:-20}

ctxsw() {  # ctxsw PID: context switches of all its threads so far
	cat /proc/$1/task/*/status 2>/dev/null \
		| awk '/^(voluntary|nonvoluntary)_ctxt_switches/ { n += $2 } END { print n + 0 }'
}
threads() {  # threads PID: "TID SWITCHES" per thread
	for _t in /proc/$1/task/*; do
		awk -v t=${_t##*/} '/^(voluntary|nonvoluntary)_ctxt_switches/ { n += $2 } END { print t, n + 0 }' $_t/status 2>/dev/null
	done
}
usb_addr() {  # usb_addr SYSFS-DEVICE-DIR: usbmon's "BUS:DEV" of it
	printf '%s:%03d\n' "$(cat $1/busnum)" "$(cat $1/devnum)"
}
dev_by_serial() {  # the sysfs directory of the USB device with that serial
	for d in /sys/bus/usb/devices/*; do
		[ "$(cat $d/serial 2>/dev/null)" = "$1" ] && { echo $d; return 0; }
	done
	return 1
}
dev_by_product() {
	for d in /sys/bus/usb/devices/*; do
		[ "$(cat $d/idProduct 2>/dev/null)" = "$1" ] && { echo $d; return 0; }
	done
	return 1
}
usbmon_on() {
	mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
	[ -e /sys/kernel/debug/usb/usbmon/0u ] || modprobe usbmon
	[ -e /sys/kernel/debug/usb/usbmon/0u ]
}

# idle_window NAME PID READERS ADDR-ERE: counts over IDLE_SECS of the
# process PID holding READERS readers idle; ADDR-ERE picks the pipes
# ("1:003" one device, "[0-9]+:[0-9]+" all).  Sets W (wake-ups), S (URBs
# submitted on interrupt-IN), U (of them unlinked) and PERMIN (wake-ups
# per reader-minute).
idle_window() {
	_f=$O/usbmon-$1.txt
	cat /sys/kernel/debug/usb/usbmon/0u > $_f 2>/dev/null &
	_um=$!
	threads $2 > $O/idle-threads-$1.0
	_c0=$(ctxsw $2)
	sleep $IDLE_SECS
	_c1=$(ctxsw $2)
	threads $2 > $O/idle-threads-$1.1
	# per thread, the busiest first: where the wake-ups are
	awk 'NR == FNR { a[$1] = $2; next } { print $1, $2 - a[$1] }' $O/idle-threads-$1.0 $O/idle-threads-$1.1 \
		| sort -k2 -n -r > $O/idle-threads-$1.txt
	kill $_um 2>/dev/null; wait $_um 2>/dev/null
	W=$((_c1 - _c0))
	S=$(awk -v re="^Ii:($4):" '$3 == "S" && $4 ~ re' $_f | wc -l)
	U=$(awk -v re="^Ii:($4):" '$3 == "C" && $4 ~ re && $5 ~ /^-(104|2)(:|$)/' $_f | wc -l)
	PERMIN=$(echo "scale=1; $W * 60 / $IDLE_SECS / $3" | bc | sed 's/^\./0./')
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$3" "$W" "$S" "$U" "$PERMIN" >> $O/idle.txt
	echo "[$(now)] idle $1: $W wake-ups in ${IDLE_SECS}s ($PERMIN per reader-minute), $S interrupt URBs submitted, $U unlinked"
}

# idle_rec BY MAXPERMIN: the verdict of the last window, for a uccid row
# (wake-ups per reader-minute at most MAXPERMIN, no URB unlinked, at most
# one submitted) or, with MAXPERMIN "-", a reference row (recorded only)
idle_rec() {
	_d="$W wake-ups in ${IDLE_SECS} s, $PERMIN per idle reader-minute; interrupt-IN URBs: $S submitted, $U unlinked"
	if [ "$2" = - ]; then
		rec idle "$1" idle ok "$_d (reference)"
	elif [ "$(echo "$PERMIN <= $2" | bc)" = 1 ] && [ "$U" -eq 0 ] && [ "$S" -le 1 ]; then
		rec idle "$1" idle ok "$_d"
	else
		rec idle "$1" idle FAIL "$_d; want at most $2 wake-ups per reader-minute, no unlink, at most 1 URB submitted"
	fi
}

idle_phase() {
	if ! usbmon_on; then
		rec idle usbmon idle FAIL "no usbmon (modprobe usbmon; debugfs)"
		return
	fi
	: > $O/idle.txt
	# uccid watch on the short-apdu virtual reader, on QEMU's, and on the
	# ICCD version A token, which has no interrupt pipe: it is asked
	# (GET_ICC_STATUS) every 200 ms, its cost recorded, not judged
	for col in short-apdu qemu-ccid iccd-a; do
		if [ $col = qemu-ccid ]; then
			[ $qemu = 1 ] || continue
			r=usb:08e6/4433; d=$(dev_by_product 4433)
		else
			b=$(bus_of $col); r=usb:1209/0001:VR-$col-${b#1-}; d=$(dev_by_serial VR-$col-${b#1-})
		fi
		[ -n "$d" ] || { rec idle "uccid watch, $col" idle FAIL "no such device in sysfs"; continue; }
		"$UCCID" -r $r watch > $O/idle-watch-$col.txt 2>&1 &
		w=$!
		# idle once it has reported the card it found at the start
		wait_line 30 $O/idle-watch-$col.txt 'inserted|present' $w
		sleep 2
		if alive $w; then
			idle_window "watch-$col" $w 1 "$(usb_addr $d)"
			[ $col = iccd-a ] && idle_rec "uccid watch, $col (no interrupt pipe: polled)" - \
				|| idle_rec "uccid watch, $col" 6
		else
			rec idle "uccid watch, $col" idle FAIL "uccid watch exited: $(tail -2 $O/idle-watch-$col.txt | tr '\n' ' ')"
		fi
		kill $w 2>/dev/null; wait $w 2>/dev/null
	done
	# pcscd holding every reader with an interrupt pipe (each with its
	# polling thread), both drivers: the polled token is taken off the bus,
	# and put back at the end, under `uccid list --watch --json` (hotplug
	# over libusb: each line must parse as JSON)
	"$UCCID" list --watch --json > $O/list-watch.txt 2> $O/list-watch-err.txt &
	lw=$!
	wait_line 30 $O/list-watch.txt '"serial":"VR-iccd-a' $lw
	lw0=$(ctxsw $lw); lwt=$(now)
	p=$(vhci_port_of $(bus_of iccd-a))
	[ -n "$p" ] && usbip detach -p $p > /dev/null 2>&1
	wait_for 100 not_attached $(bus_of iccd-a)
	for row in bundle libccid; do
		start_pcscd $row $((NPCSC - 1 + qemu)) idle-$row
		# the listing (opensc-tool -l, the last client) connected to every card; pcscd powers
		# each down once its grace period after that runs out: idle starts after those
		# power-offs, or the window counts them (up to 30 s: a pcscd that keeps cards powered
		# is just waited out)
		cards=$(grep -c -E '^[0-9]+ +Yes ' $O/opensc-l-idle-$row.txt)
		from=$(( $(wc -l < $O/pcscd-idle-$row.log) + 1 ))
		# (until_s: by the clock; wait_for counts tries, and a try takes a second under TCG)
		until_s 30 sh -c "[ \$(tail -n +$from $O/pcscd-idle-$row.log | grep -c 'POWER_STATE_UNPOWERED') -ge $cards ]" ||
			echo "[$(now)] idle: pcscd ($row) did not power the $cards cards down within 30 s"
		n=$(grep -c -E '^[0-9]+ ' $O/opensc-l-idle-$row.txt)     # after wait_for, which sets n
		if [ -n "$pc" ] && alive $pc && [ "$n" -gt 0 ]; then
			idle_window "pcscd-$row" $pc $n '[0-9]+:[0-9]+'
			[ $row = bundle ] && idle_rec "pcscd + uccid bundle, $n readers" 6 || idle_rec "pcscd + libccid, $n readers" -
		else
			rec idle "pcscd + $row" idle FAIL "pcscd did not list the readers ($n)"
		fi
		stop_pcscd
	done
	lw1=$(ctxsw $lw); lwt=$(since $lwt)
	until_s 10 usbip attach -r 127.0.0.1 -b $(bus_of iccd-a) || echo "usbip attach $(bus_of iccd-a) failed"
	wait_for 100 sh -c "[ \$(lsusb -d 1209:0001 | wc -l) -ge $NVR ]"
	wait_line 30 $O/list-watch.txt '"event":"arrived".*"serial":"VR-iccd-a.*' $lw
	# the arrival after the removal: the second "arrived" line of the token
	wait_for 300 sh -c "[ \$(grep -c '\"event\":\"arrived\".*VR-iccd-a' $O/list-watch.txt) -ge 2 ]"
	kill -INT $lw 2>/dev/null; wait $lw; lwrc=$?
	bad=$(python3 -c 'import json, sys
n = 0
for i, line in enumerate(open(sys.argv[1]), 1):
    try:
        e = json.loads(line)
        assert e["event"] in ("arrived", "left") and e["name"].startswith("usb:"), "fields"
    except Exception as x:
        print("line %d: %s: %r" % (i, x, line[:80])); n += 1
' $O/list-watch.txt)
	seq=$(grep 'VR-iccd-a' $O/list-watch.txt | sed 's/^{"event":"\([a-z]*\)".*/\1/' | tr '\n' ' ')
	# idle, it wakes once a second (its tick; no udevd here: a look at /dev/bus/usb every 2 s,
	# a rescan only when it changed); 3 a second at most, the plugging included
	lwps=$(echo "scale=1; ($lw1 - $lw0) / $lwt" | bc | sed "s/^\./0./")
	if [ -z "$bad" ] && [ $lwrc = 0 ] && [ "$seq" = "arrived left arrived " ] && [ $((lw1 - lw0)) -le $(echo "3 * $lwt / 1" | bc) ]; then
		rec hotplug "uccid list --watch --json" watch ok "iccd-a detached and attached again: $seq; $(grep -c . $O/list-watch.txt) lines, each a JSON object; exit 0 on SIGINT; $((lw1 - lw0)) wake-ups in ${lwt} s ($lwps a second; at most 3)"
	else
		rec hotplug "uccid list --watch --json" watch FAIL "events of iccd-a: '$seq' (want arrived left arrived), exit $lwrc, ${bad:-every line JSON}, $((lw1 - lw0)) wake-ups in ${lwt} s ($lwps a second; at most 3); $(tail -1 $O/list-watch-err.txt)"
	fi
}
