#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Inside the guest (booted by tests/hil/interop.sh with QEMU's usb-ccid
# reader and emulated CAC card): the interop matrix, then the side by side
# with libccid.  One uccid-vreader exports every profile; all of them are
# attached through vhci-hcd at once, next to QEMU's reader on xHCI.
# Then pcscd hotplug (guest/hotplug.sh) and, last, uccid against the
# kernel's usbipd (guest/usbipd.sh), each a section of its own.
#   rows:    libccid under pcscd, uccid's installed bundle under pcscd
#            (coldplug by VID/PID), uccid direct (libusb transport)
#   columns: each vreader profile, QEMU's usb-ccid + CAC card
# Every check writes one line to /hilout/results.txt:
#   ROW<TAB>COLUMN<TAB>CHECK<TAB>ok|FAIL|n/a<TAB>DETAIL
# and bench / fault figures go to /hilout/bench.txt and /hilout/faults.txt.
# Settings from /hilout/config.sh: VREADER PCSC_SESSION PCSC_CLIENT UCCID VRCTL
# BUNDLE (the installed ifd-uccid.bundle) HIL_SRC (tests/hil) PHASES BENCH_COUNT.
# Exit status: the number of FAIL lines.
O=/hilout
. $O/config.sh
. $HIL_SRC/guest/hotplug.sh
. $HIL_SRC/guest/usbipd.sh
. $HIL_SRC/guest/idle.sh
now() { cut -d' ' -f1 /proc/uptime; }
since() { echo "$(now) - $1" | bc | sed 's/^\./0./'; }  # seconds since a now
ip link set lo up
modprobe vhci-hcd 2>/dev/null
mkdir -p /run/pcscd
R=$O/results.txt
: > $R
: > $O/bench.txt
: > $O/faults.txt
PROFILES="tpdu-t0 tpdu-t1 short-apdu extended-apdu multi-slot mechanical"
# ICCD tokens (session/iccd.c, vreader/profiles.c): bInterfaceProtocol 1 / 2,
# exchanges over the control pipe; their own cells (iccd_cells)
ICCD="iccd-a iccd-b"
NVR=8                   # virtual readers: PROFILES and ICCD
NPCSC=11                # the pcscd readers they make (multi-slot: 4)
QEMU_ATR=3B7A18000073667465206364313434
DROP=/usr/lib/pcsc/drivers

rec() {  # rec ROW COLUMN CHECK STATUS DETAIL...
	_r=$1 _c=$2 _k=$3 _s=$4; shift 4
	_l=${LIBCCID_LOG:-$O/pcscd-libccid.log}
	if [ "$_r" = libccid ] && [ "$_s" = FAIL ] && [ -f $_l ]; then
		# the evidence: libccid's own complaints in pcscd's log
		_e=$(grep -E 'ccid_usb.c|commands.c|ifdhandler.c' $_l | grep -i -E 'invalid|error|fail|timeout' | tail -2 | cut -c10- | tr '\n' ' ')
		set -- "$* [$(basename $_l): ${_e:-no libccid error logged}]"
	fi
	printf '%s\t%s\t%s\t%s\t%s\n' "$_r" "$_c" "$_k" "$_s" "$*" | tr -d '\r' >> $R
	echo "[$(now)] $_r / $_c / $_k: $_s $*"
}
until_s() {  # until_s SECONDS COMMAND...: retry until it succeeds or the time is up
	_end=$(( $(date +%s) + $1 )); shift
	while ! "$@" >/dev/null 2>&1; do [ "$(date +%s)" -ge $_end ] && return 1; sleep 0.2; done
}
wait_for() {  # wait_for TENTHS COMMAND...
	n=$1; shift
	while [ "$n" -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; n=$((n - 1)); done
	return 1
}
alive() {  # alive PID: running, not a zombie waiting to be reaped
	kill -0 "$1" 2>/dev/null || return 1
	case $(sed 's/^.*) //' /proc/$1/stat 2>/dev/null) in Z* | X* | "") return 1;; esac
}
wait_line() {  # wait_line SECONDS FILE ERE [PID]: until a line of FILE matches; no longer once PID has exited
	_end=$(( $(date +%s) + $1 ))
	until grep -q -E -- "$3" "$2" 2>/dev/null; do
		[ -n "${4:-}" ] && ! alive $4 && { grep -q -E -- "$3" "$2" 2>/dev/null; return; }
		[ "$(date +%s)" -ge $_end ] && return 1
		sleep 0.05
	done
}
vrctl() {  # vrctl BUSID LINE...: the control socket's replies
	_vb=$1; shift
	python3 "$VRCTL" /run/vr.sock "reader $_vb" "$@"
}
bus_of() {  # the vreader's bus ID of a profile (the order of --profile below)
	case $1 in tpdu-t0) echo 1-1;; tpdu-t1) echo 1-2;; short-apdu) echo 1-3;; extended-apdu) echo 1-4;;
		multi-slot) echo 1-5;; mechanical) echo 1-6;; iccd-a) echo 1-7;; iccd-b) echo 1-8;; esac
}
atr_of() {  # the ATR of the card in a profile's reader, as uccid-vreader printed it
	sed -n "s/^reader $(bus_of $1):.*, ATR \(.*\)\$/\1/p" $O/vreader.log | tr -d ' '
}

# --- the devices: one vreader, six readers attached through vhci-hcd ---
"$VREADER" --port 3240 --control /run/vr.sock $(for p in $PROFILES $ICCD; do echo --profile $p; done) \
	> $O/vreader.log 2>&1 &
vr=$!
wait_for 50 grep -q '^listening' $O/vreader.log || { echo "uccid-vreader did not start"; cat $O/vreader.log; exit 1; }
t0=$(now)
for b in $(seq 1 $NVR | sed 's/^/1-/'); do
	# "open vhci_driver" fails now and then while the previous import settles
	until_s 10 usbip attach -r 127.0.0.1 -b $b || echo "usbip attach $b failed"
done
wait_for 100 sh -c "[ \$(lsusb -d 1209:0001 | wc -l) -ge $NVR ]"
qemu=0; wait_for 30 sh -c 'lsusb | grep -q 08e6:4433' && qemu=1
echo "== attached in $(echo "$(now) - $t0" | bc)s: $(lsusb -d 1209:0001 | wc -l) virtual readers, QEMU reader $qemu"
lsusb > $O/lsusb.txt; usbip port > $O/usbip-port.txt 2>&1
lsusb -v -d 1209:0001 > $O/lsusb-v-vreader.txt 2>&1
lsusb -v -d 08e6:4433 > $O/lsusb-v-qemu.txt 2>&1
# lsusb qualifies its own decoding of any bcdCCID but 1.00 ("Only accurate
# for version 1.0"): that note is about lsusb, not the device
lsusb_note="lsusb -v decodes $(grep -c 'ChipCard Interface Descriptor' $O/lsusb-v-vreader.txt) CCID descriptors"
grep -v 'Only accurate for version 1.0' $O/lsusb-v-vreader.txt | grep -q -i -E 'warning|unrecognized|invalid|too short|bogus' \
	&& lsusb_note="lsusb -v COMPLAINS (lsusb-v-vreader.txt)"
sleep 0.5

# pcscd binds USB readers to drivers by VID/PID from each bundle's Info.plist
# (hotplug_libudev.c; even libccid's class driver matches only listed IDs).
# Add the virtual reader's pid.codes test ID to libccid's list, in the guest's
# writable overlay only, as a user does for a reader libccid does not list yet.
plist=$DROP/ifd-ccid.bundle/Contents/Info.plist
awk '{ print }
     /<key>ifdVendorID<\/key>/ { k = "0x1209" }
     /<key>ifdProductID<\/key>/ { k = "0x0001" }
     /<key>ifdFriendlyName<\/key>/ { k = "uccid virtual reader" }
     /<array>/ && k != "" { print "\t\t<string>" k "</string>"; k = "" }' $plist > /run/Info.plist.ccid
cat /run/Info.plist.ccid > $plist
# Both drivers' bundles are kept aside; each pcscd run sees only its own.
mkdir -p /run/bundles
mv $DROP/ifd-ccid.bundle /run/bundles/
rm -rf $DROP/ifd-uccid.bundle     # the host's, if any: the freshly installed one is tested
cp -a "$BUNDLE" /run/bundles/ifd-uccid.bundle

pc=
start_pcscd() {  # start_pcscd libccid|bundle [READERS [LOG]]: until it lists READERS (default: all)
	rm -rf $DROP/ifd-ccid.bundle $DROP/ifd-uccid.bundle
	case $1 in libccid) cp -a /run/bundles/ifd-ccid.bundle $DROP/;; *) cp -a /run/bundles/ifd-uccid.bundle $DROP/;; esac
	rm -f /run/pcscd/*
	env $PCSCD_ENV pcscd -f -d > $O/pcscd-${3:-$1}.log 2>&1 &
	pc=$!
	want=${2:-$((NPCSC + qemu))}
	until_s 30 sh -c "[ \$(timeout 5 opensc-tool -l 2>/dev/null | grep -c -E '^[0-9]+ ') -ge $want ]"
	timeout 10 opensc-tool -l > $O/opensc-l-${3:-$1}.txt 2>&1
}
stop_pcscd() {
	[ -n "$pc" ] || return
	kill $pc 2>/dev/null
	wait_for 50 sh -c "! kill -0 $pc" || kill -9 $pc
	wait $pc 2>/dev/null; pc=
}
index_of() {  # index_of ROW SUBSTRING: opensc-tool's reader number
	grep -F -- "$2" $O/opensc-l-$1.txt | awk '{ print $1 }' | head -1
}
name_of() {  # the pcscd reader name's distinctive part
	case $1 in qemu-ccid) echo "433-Swap";; *) b=$(bus_of $1); echo "VR-$1-${b#1-})";; esac
}

# --- rows (a) and (b): a driver under pcscd ---
pcscd_row() {  # pcscd_row libccid|bundle
	row=$1
	for col in $PROFILES qemu-ccid; do
		[ $col = qemu-ccid ] && [ $qemu = 0 ] && { rec $row $col list FAIL "QEMU's reader is not on the bus"; continue; }
		name=$(name_of $col)
		n=$(grep -c -F -- "$name" $O/opensc-l-$row.txt)
		want=1; [ $col = multi-slot ] && want=4
		[ "$n" -eq $want ] && rec $row $col list ok "$n pcscd reader(s)" \
			|| { rec $row $col list FAIL "pcscd lists $n readers named *$name*, want $want"; continue; }
		idx=$(index_of $row "$name")
		atr=$(timeout 20 opensc-tool -r $idx -a 2>&1 | grep -i -E '^[0-9a-f]{2}([: ][0-9a-f]{2})+' | head -1 | tr -d ': \n' | tr 'a-f' 'A-F')
		wantatr=$(atr_of $col); [ $col = qemu-ccid ] && wantatr=$QEMU_ATR
		[ "$atr" = "$wantatr" ] && rec $row $col atr ok "$atr" || rec $row $col atr FAIL "opensc-tool -a: '$atr', want '$wantatr'"
		log=$O/$row-$col
		if [ $col = qemu-ccid ]; then
			timeout 30 opensc-tool -r $idx -s '00 A4 04 00 07 A0 00 00 00 79 01 00' -s '00 A4 04 00 07 A0 00 00 01 16 DB 00' > $log.opensc-s.txt 2>&1
			c=$(grep -c -E '^Received .*SW1=0x(90|61)' $log.opensc-s.txt)
			[ "$c" -eq 2 ] && rec $row $col opensc-tool ok "-s SELECT PKI and CCC applets: $(grep -o 'SW1=0x.., SW2=0x..' $log.opensc-s.txt | tr '\n' ' ')" \
				|| rec $row $col opensc-tool FAIL "opensc-tool -s: $(grep -E 'Received|rror' $log.opensc-s.txt | tr '\n' ' ')"
			timeout 60 "$PCSC_SESSION" --name "$name" --cac > $log.cac.txt 2>&1 \
				&& rec $row $col apdus ok "CAC applets: $(grep -c '^ok' $log.cac.txt) checks (SELECT + GET RESPONSE, every disposition)" \
				|| rec $row $col apdus FAIL "$(grep -E '^FAIL' $log.cac.txt | head -3 | tr '\n' ' ')"
			rec $row $col dispositions "$(grep -q 'after EndTransaction(UNPOWER)' $log.cac.txt && ! grep -q '^FAIL.*\(Transaction\|Reconnect\|answers after\|reset\)' $log.cac.txt && echo ok || echo FAIL)" \
				"Begin/EndTransaction and SCardReconnect LEAVE/RESET/UNPOWER, the card answers after each; RESET and UNPOWER reported to the handle by pcscd, LEAVE not (no journal on QEMU's card); EJECT: $(sed -n 's/^info: SCardEndTransaction(EJECT): //p' $log.cac.txt)"
			rec $row $col selftest n/a "pcscd drives the reader (selftest runs in the uccid direct row)"
			continue
		fi
		ext=; [ $col = extended-apdu ] && ext=--extended
		bad=0
		for s in $(seq 0 $((want - 1))); do
			sub=$name; [ $want -gt 1 ] && sub="$name 0$(bus_of $col | cut -c3) 0$s"
			timeout 60 "$PCSC_SESSION" --name "$sub" $ext --atr "$(atr_of $col)" > $log.session$s.txt 2>&1 || bad=$((bad + 1))
		done
		[ $bad = 0 ] && rec $row $col apdus ok "SELECT/VERIFY/READ BINARY/ECHO$([ -n "$ext" ] && echo ' + 4096-byte extended ECHO'): $(grep -c '^ok' $log.session0.txt) checks on each of $want slot(s)" \
			|| rec $row $col apdus FAIL "$(cat $log.session*.txt | grep -E '^FAIL' | head -3 | tr '\n' ' ')"
		timeout 90 "$PCSC_CLIENT" --ctl /run/vr.sock --bus $(bus_of $col) session "$name" $ext > $log.dispositions.txt 2>&1
		fl=$(grep -E '^FAIL' $log.dispositions.txt)
		if [ -z "$fl" ] && grep -q '^session: 0 failed' $log.dispositions.txt; then
			rec $row $col dispositions ok "Connect/Reconnect/Begin+EndTransaction/Disconnect with LEAVE RESET UNPOWER EJECT, each proved by the vreader's journal ($(grep -c '^ok' $log.dispositions.txt) checks)"
		elif [ $col = tpdu-t0 ] && [ "$fl" = "FAIL short ECHO of 200 bytes: Command successful., 2 bytes" ]; then
			# pcsc-client expects the driver to fetch a T=0 case 4 answer (61xx + GET
			# RESPONSE); libccid leaves it to the application, as PC/SC allows
			rec $row $col dispositions ok "every disposition proved by the vreader's journal ($(grep -c '^ok' $log.dispositions.txt) checks); a T=0 case 4 APDU answers 61xx, the GET RESPONSE left to the application (pcsc-session, which sends it, passes)"
		else
			rec $row $col dispositions FAIL "$(echo "$fl" | head -3 | tr '\n' ' ')"
		fi
		timeout 30 opensc-tool -r $idx -s '00 A4 04 0C 07 F0 75 63 63 69 64 01' -s '80 10 00 04 02 AA BB 00' > $log.opensc-s.txt 2>&1
		grep -q 'AA BB 00 01 02 03' $log.opensc-s.txt && rec $row $col opensc-tool ok "-s SELECT + ECHO" \
			|| rec $row $col opensc-tool FAIL "opensc-tool -s: $(grep -E 'Received|rror' $log.opensc-s.txt | head -3 | tr '\n' ' ')"
		rec $row $col selftest n/a "pcscd drives the reader (selftest runs in the uccid direct row)"
	done
	iccd_cells $row
}

# After an eject without a mechanism the lock manager keeps the card latched
# until a uccid process sees the slot empty (docs/locks.md): "uccid status"
# asks the reader while the card is out.
unlatch() {  # unlatch READER BUSID SLOT
	vrctl $2 "remove $3" > /dev/null
	timeout 30 "$UCCID" -r $1 status --slot $3 > $O/unlatch.txt 2>&1
	vrctl $2 "insert $3" > /dev/null
}

# --- row (c): uccid direct, the libusb transport ---
direct_row() {
	row=direct
	uccid_list=$("$UCCID" list 2>&1); echo "$uccid_list" > $O/uccid-list.txt
	for col in $PROFILES qemu-ccid; do
		log=$O/direct-$col
		if [ $col = qemu-ccid ]; then
			[ $qemu = 1 ] || { rec $row $col list FAIL "QEMU's reader is not on the bus"; continue; }
			r=usb:08e6/4433
			grep -q '08e6:4433' $O/uccid-list.txt && rec $row $col list ok "uccid list: $(grep 08e6:4433 $O/uccid-list.txt | head -1)" \
				|| rec $row $col list FAIL "uccid list: $(cat $O/uccid-list.txt | tr '\n' ' ')"
		else
			b=$(bus_of $col); r=usb:1209/0001:VR-$col-${b#1-}
			n=$(grep -c '1209:0001' $O/uccid-list.txt)
			[ "$n" -eq $NVR ] && [ "${lsusb_note#*COMPLAINS}" = "$lsusb_note" ] \
				&& rec $row $col list ok "uccid list: $NVR virtual readers; $lsusb_note" \
				|| rec $row $col list FAIL "uccid list shows $n virtual readers, want $NVR; $lsusb_note"
		fi
		timeout 30 "$UCCID" -r $r atr > $log.atr.txt 2>&1
		atr=$(timeout 30 "$UCCID" --json -r $r atr 2>/dev/null | sed -n 's/^{"kind":"atr","title":"ATR","length":[0-9]*,"bytes":"\([0-9A-Fa-f]*\)".*/\1/p' | tr 'a-f' 'A-F')
		wantatr=$(atr_of $col); [ $col = qemu-ccid ] && wantatr=$QEMU_ATR
		[ "$atr" = "$wantatr" ] && rec $row $col atr ok "$atr" || rec $row $col atr FAIL "uccid atr: '$atr', want '$wantatr' ($(head -3 $log.atr.txt | tr '\n' ' '))"
		if [ $col = qemu-ccid ]; then
			cat > $log.script <<-EOF
			# CAC applets: SELECT with the FCI asked for (T=0: no Le); uccid sends the
			# GET RESPONSE the card's 61xx calls for itself (the trace shows it)
			00 A4 04 00 07 A0 00 00 00 79 01 00
			lock
			00 A4 04 00 07 A0 00 00 01 16 DB 00
			unlock leave
			lock
			unlock reset
			00 A4 04 00 07 A0 00 00 00 79 03 00
			lock
			unlock unpower
			reset cold
			00 A4 04 00 07 A0 00 00 00 79 01 01
			lock
			unlock eject
			EOF
		else
			slot_args=
			cat > $log.script <<-EOF
			00 A4 04 0C 07 F0 75 63 63 69 64 01
			00 20 00 80 06 30 30 30 30 30 30
			lock 2000
			00 20 00 80 06 31 32 33 34 35 36
			unlock leave
			00 20 00 80
			lock
			unlock reset
			00 20 00 80
			reset
			00 A4 02 0C 02 01 01
			00 B0 00 20 10
			80 10 00 00 05
			lock
			unlock unpower
			reset cold
			00 20 00 80
			lock
			unlock eject
			EOF
			[ $col = extended-apdu ] && sed -i '/^80 10 00 00 05$/a 80 10 00 00 00 10 00' $log.script
		fi
		slots=0; [ $col = multi-slot ] && slots="0 1 2 3"
		bad=
		for s in $slots; do
			[ $col != qemu-ccid ] && vrctl $(bus_of $col) "journal clear" > /dev/null
			timeout 60 "$UCCID" --trace -r $r apdu --slot $s -f $log.script > $log.apdu$s.txt 2> $log.trace$s.txt \
				|| bad="$bad slot $s: exit $? ($(grep -v '^[<>]' $log.trace$s.txt | grep -v -E '^ *(PC_to_RDR|RDR_to_PC|[0-9a-f]{2} )' | tail -2 | tr '\n' ' '))"
			if [ $col = qemu-ccid ]; then
				c=$(grep -c -E '^< 6F .* 9000 ' $log.apdu$s.txt)
				[ "$c" -ge 4 ] || bad="$bad only $c of 4 SELECTs answered FCI + 9000"
				grep -q 'RDR_to_PC_DataBlock .*| 61 ' $log.trace$s.txt && grep -q 'PC_to_RDR_XfrBlock .*| 00 C0 00 00 ' $log.trace$s.txt \
					|| bad="$bad no 61xx + GET RESPONSE in the trace"
				for d in leave reset unpower eject; do grep -q "unlocked ($d)" $log.apdu$s.txt || bad="$bad no unlock $d"; done
				grep -q 'PC_to_RDR_IccPowerOff' $log.trace$s.txt || bad="$bad no IccPowerOff in the trace"
				continue
			fi
			j=$(vrctl $(bus_of $col) "journal $s")
			echo "$j" > $log.journal$s.txt
			grep -q '^< 63C2' $log.apdu$s.txt && [ "$(grep -c '^< 9000' $log.apdu$s.txt)" -ge 4 ] \
				&& [ "$(grep -c '^< 63C3' $log.apdu$s.txt)" -ge 2 ] && grep -q '^< 20 21 22' $log.apdu$s.txt \
				|| bad="$bad slot $s: status words ($(grep '^<' $log.apdu$s.txt | cut -c1-20 | tr '\n' ','))"
			[ "$(echo "$j" | grep 'host PC_to_RDR_IccPowerOn' | grep -c ' warm')" -ge 2 ] || bad="$bad slot $s: want 2 warm resets in the journal"
			# unpower: IccPowerOff; eject: IccPowerOff and latch, or PC_to_RDR_Mechanical
			offs=2; [ $col = mechanical ] && offs=1
			[ "$(echo "$j" | grep -c 'host PC_to_RDR_IccPowerOff')" -ge $offs ] || bad="$bad slot $s: want $offs IccPowerOff (unpower, eject) in the journal"
			if [ $col = mechanical ]; then
				echo "$j" | grep -q 'host PC_to_RDR_Mechanical' && grep -q 'unlocked (eject): ejected' $log.apdu$s.txt \
					|| bad="$bad eject: no PC_to_RDR_Mechanical"
			else
				grep -q 'unlocked (eject): latched' $log.apdu$s.txt || bad="$bad eject: not latched"
			fi
			unlatch $r $(bus_of $col) $s
		done
		[ -z "$bad" ] && rec $row $col apdus ok "uccid apdu -f: $(grep -c '^>' $log.apdu0.txt) APDUs per slot, SWs as expected$([ $col = extended-apdu ] && echo ', 4096-byte extended ECHO')" \
			|| rec $row $col apdus FAIL "$bad"
		if [ -z "$bad" ]; then
			if [ $col = qemu-ccid ]; then
				rec $row $col dispositions ok "lock/unlock leave, reset, unpower, eject (latched) in one apdu script; IccPowerOn/Off seen in uccid --trace"
			else
				rec $row $col dispositions ok "lock/unlock leave, reset, unpower, eject ($([ $col = mechanical ] && echo 'PC_to_RDR_Mechanical' || echo 'powered off and latched')), proved by the vreader's journal"
			fi
		else
			rec $row $col dispositions FAIL "see the apdus check"
		fi
		# uccid lock with a disposition given on the command line, and uccid locks
		if [ $col != qemu-ccid ]; then
			vrctl $(bus_of $col) "journal clear" > /dev/null
			echo '00 A4 04 0C 07 F0 75 63 63 69 64 01' | timeout 30 "$UCCID" -r $r lock --disposition unpower > $log.lock.txt 2>&1
			lr=$?
			j=$(vrctl $(bus_of $col) "journal 0")
			[ $lr = 0 ] && echo "$j" | grep -q 'host PC_to_RDR_IccPowerOff' \
				&& rec $row $col lock ok "uccid lock --disposition unpower: IccPowerOff in the journal" \
				|| rec $row $col lock FAIL "uccid lock exit $lr: $(tail -2 $log.lock.txt | tr '\n' ' ')"
		fi
		rec $row $col opensc-tool n/a "OpenSC reaches readers only through PC/SC (rows above)"
		timeout 120 "$UCCID" -r $r selftest > $log.selftest.txt 2>&1
		st=$?
		sum=$(grep -E '^[0-9]+ probes:' $log.selftest.txt)
		dev=$(grep -E '^[^ ].* (deviation|deviates) ' $log.selftest.txt | awk '{ print $1 }' | tr '\n' ' ')
		if [ -n "$sum" ]; then
			rec $row $col selftest ok "$sum${dev:+ — deviations: $dev} (exit $st)"
		else
			rec $row $col selftest FAIL "no summary, exit $st: $(tail -3 $log.selftest.txt | tr '\n' ' ')"
		fi
	done
	iccd_cells direct
}

# --- ICCD tokens: power up, SELECT, ECHO, power off, by each driver ---
# (issue 13: libccid drives our iccd-a and iccd-b as it drives real tokens)
iccd_cells() {  # iccd_cells libccid|bundle|direct (pcscd running for the first two)
	row=$1
	for col in $ICCD; do
		b=$(bus_of $col); name=VR-$col-${b#1-}; wantatr=$(atr_of $col); log=$O/$row-$col
		if [ $row = direct ]; then
			r=usb:1209/0001:$name
			grep -q "$name" $O/uccid-list.txt && rec $row $col list ok "uccid list names it: $r" \
				|| rec $row $col list FAIL "uccid list: $(tr '\n' ' ' < $O/uccid-list.txt)"
			atr=$(timeout 30 "$UCCID" --json -r $r atr 2>$log.atr.txt | sed -n 's/^{"kind":"atr","title":"ATR","length":[0-9]*,"bytes":"\([0-9A-Fa-f]*\)".*/\1/p' | tr 'a-f' 'A-F')
			[ "$atr" = "$wantatr" ] && rec $row $col atr ok "$atr" || rec $row $col atr FAIL "uccid atr: '$atr', want '$wantatr' ($(head -3 $log.atr.txt | tr '\n' ' '))"
			printf '%s\n' '00 A4 04 0C 07 F0 75 63 63 69 64 01' '80 10 00 04 02 AA BB 00' > $log.script
			timeout 60 "$UCCID" --trace -r $r apdu -f $log.script > $log.apdu.txt 2> $log.trace.txt
			arc=$?
			timeout 30 "$UCCID" -r $r poweroff > $log.poweroff.txt 2>&1
			prc=$?
			st=$(vrctl $b status | grep -i slot | head -1)
			if [ $arc = 0 ] && [ $prc = 0 ] && grep -q '^< 9000' $log.apdu.txt && grep -q '^< AA BB 00 01 02 03' $log.apdu.txt \
				&& ! echo "$st" | grep -q ' powered'; then
				rec $row $col apdus ok "uccid apdu -f: SELECT 9000, ECHO AA BB 00 01 02 03; uccid poweroff; the token says: $st"
			else
				rec $row $col apdus FAIL "apdu exit $arc, poweroff exit $prc: $(grep '^<' $log.apdu.txt | tr '\n' ' ') $(grep -v '^[<>]' $log.trace.txt | grep -v -E '^ *(PC_to_RDR|RDR_to_PC|[0-9a-f]{2} )' | tail -2 | tr '\n' ' ') the token says: $st"
			fi
			continue
		fi
		n=$(grep -c -F -- "$name" $O/opensc-l-$row.txt)
		[ "$n" -eq 1 ] && rec $row $col list ok "pcscd lists it" \
			|| { rec $row $col list FAIL "pcscd lists $n readers named *$name*, want 1"; continue; }
		idx=$(index_of $row "$name")
		atr=$(timeout 20 opensc-tool -r $idx -a 2>&1 | grep -i -E '^[0-9a-f]{2}([: ][0-9a-f]{2})+' | head -1 | tr -d ': \n' | tr 'a-f' 'A-F')
		[ "$atr" = "$wantatr" ] && rec $row $col atr ok "$atr" || rec $row $col atr FAIL "opensc-tool -a: '$atr', want '$wantatr'"
		timeout 30 opensc-tool -r $idx -s '00 A4 04 0C 07 F0 75 63 63 69 64 01' -s '80 10 00 04 02 AA BB 00' > $log.opensc-s.txt 2>&1
		grep -q 'AA BB 00 01 02 03' $log.opensc-s.txt && rec $row $col opensc-tool ok "-s SELECT + ECHO" \
			|| rec $row $col opensc-tool FAIL "opensc-tool -s: $(grep -E 'Received|rror' $log.opensc-s.txt | head -3 | tr '\n' ' ')"
		# the standard session; it ends with SCardDisconnect(UNPOWER): the token powered off
		timeout 60 "$PCSC_SESSION" --name "$name" --atr "$wantatr" > $log.session0.txt 2>&1
		src=$?
		st=$(vrctl $b status | grep -i slot | head -1)
		[ $src = 0 ] && ! echo "$st" | grep -q ' powered' \
			&& rec $row $col apdus ok "SELECT/VERIFY/READ BINARY/ECHO: $(grep -c '^ok' $log.session0.txt) checks, then SCardDisconnect(UNPOWER); the token says: $st" \
			|| rec $row $col apdus FAIL "pcsc-session exit $src: $(grep -E '^FAIL' $log.session0.txt | head -3 | tr '\n' ' '); the token says: $st"
	done
}

# --- side by side: SCardTransmit through pcscd, both drivers ---
bench_row() {  # bench_row libccid|bundle (pcscd running)
	for col in tpdu-t1 short-apdu extended-apdu; do
		sizes="5 261"; [ $col = extended-apdu ] && sizes="5 261 4096"
		for size in $sizes; do
			n=${BENCH_COUNT:-300}; [ $size -gt 261 ] && n=$((n / 3))   # 4096 bytes: ~70 ms each under TCG
			out=$(timeout 120 "$PCSC_SESSION" --name "VR-$col" --bench $size --count $n 2>&1)
			line=$(echo "$out" | grep '^bench ')
			if [ -n "$line" ]; then
				echo "$1 $col $line" >> $O/bench.txt
				echo "[$(now)] bench $1 $col $line"
			else
				rec $1 $col bench FAIL "bench $size: $(echo "$out" | grep FAIL | head -2 | tr '\n' ' ')"
			fi
		done
	done
}

# --- faults: the vreader's tpdu-t1 reader, both drivers ---
# NAME: armed on every answer until cleared; NAME-once: on one answer only, a
# transient fault that a driver may recover from (endless-wtx needs only one)
FAULTS="mute mute-once wrong-seq garbage truncated length-huge slot-busy slot-busy-once stall hw-error endless-wtx"
fault_row() {  # fault_row libccid|bundle (pcscd running)
	for f in $FAULTS; do
		name=${f%-once}; count=0; recover=
		[ $f != $name ] && { count=1; recover=recover; }
		[ $f = endless-wtx ] && count=1
		t=$(now)
		timeout 15 "$PCSC_CLIENT" --ctl /run/vr.sock --bus 1-2 fault "VR-tpdu-t1" $name 60000 $count $recover > $O/fault-$1-$f.txt 2>&1
		rc=$?
		vrctl 1-2 "fault clear" > /dev/null
		err=$(sed -n -e "s/^ok $name: SCardTransmit failed after \([0-9]*\) ms: \(.*\)$/\1 ms|\2/p" \
			-e "s/^ok $name: SCardTransmit succeeded after \([0-9]*\) ms (recovered)$/\1 ms|none: recovered, the APDU succeeded/p" $O/fault-$1-$f.txt)
		[ -z "$err" ] && err="$(grep -q 'SCardTransmit succeeded' $O/fault-$1-$f.txt && echo 'no error: SCardTransmit succeeded' || echo "no error within 15 s (client killed)")|-"
		t0=$(now)
		resp=no; timeout 5 pcsc_scan -r > /dev/null 2>&1 && resp=yes
		rt=$(echo "$(now) - $t0" | bc)
		next=no; grep -q "^ok $name: pcscd responsive, the reader works again" $O/fault-$1-$f.txt && next=yes
		if [ $next = no ]; then  # a second chance, as a user would retry
			timeout 20 "$PCSC_SESSION" --name "VR-tpdu-t1" --bench 5 --count 3 > /dev/null 2>&1 && next="after a retry"
		fi
		printf '%s\t%s\t%s\t%s\t%ss\t%s\t%s\n' "$1" "$f" "${err%%|*}" "${err#*|}" "$rt" "$resp" "$next" >> $O/faults.txt
		echo "[$(now)] fault $1 $f: error ${err%%|*} (${err#*|}), pcscd answers: $resp ($rt s), next command works: $next"
		if [ $resp = no ] || [ $next = no ]; then
			# a wedged pcscd or reader: start again, so that the next fault is measured on its own
			stop_pcscd; vrctl 1-2 "fault clear" "remove 0" > /dev/null; sleep 1; vrctl 1-2 "insert 0" > /dev/null
			start_pcscd $1
			printf '%s\t%s\t%s\n' "$1" "$f" "pcscd restarted and the card replugged after it" >> $O/faults-notes.txt
		fi
	done
}

PHASES=${PHASES:-"libccid bundle direct idle bench faults hotplug usbipd"}
has() { case " $PHASES " in *" $1 "*) return 0;; esac; return 1; }
for row in libccid bundle; do
	has $row || has bench || continue
	echo "== $row under pcscd ($(now)s)"
	start_pcscd $row
	has $row && pcscd_row $row
	has bench && bench_row $row
	stop_pcscd
done
if has direct; then
	echo "== uccid direct ($(now)s)"
	direct_row
fi
if has idle; then
	echo "== idle readers ($(now)s)"
	idle_phase
fi
# faults last, uccid first: a driver that hangs on a fault cannot disturb the other rows
if has faults; then
	for row in bundle libccid; do
		echo "== faults, $row ($(now)s)"
		# uccid's exchange deadline at 5 s (default 60 s) so that endless-wtx fits the client's 15 s
		PCSCD_ENV=; [ $row = bundle ] && PCSCD_ENV=UCCID_IFD_DEADLINE_MS=5000
		start_pcscd $row
		fault_row $row
		stop_pcscd
	done
fi
if has hotplug; then
	echo "== pcscd hotplug ($(now)s)"
	hotplug_phase
fi
# last: it stops the virtual reader and takes QEMU's reader from the host
if has usbipd; then
	echo "== uccid against the kernel's usbipd ($(now)s)"
	usbipd_phase
fi
[ -n "$vr" ] && { kill $vr; wait $vr 2>/dev/null; }
# The exit status counts uccid's rows; libccid's is the reference, its
# failures documented in the table with pcscd's log as the evidence.
fails=$(grep -v '^libccid' $R | grep -c "	FAIL	")
echo "== done ($(now)s), $fails checks of uccid failed, $(grep '^libccid' $R | grep -c "	FAIL	") of libccid"
exit $fails
