#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Inside the guest: for each profile, run uccid-vreader on the guest's
# loopback, attach it through vhci-hcd with the kernel's usbip, check that
# lsusb decodes it without complaint, and drive it with pcscd + Debian's
# libccid (the reference driver): pcsc_scan, opensc-tool -a, and the card
# session of pcsc-session.  Settings come from /hilout/config.sh
# (VREADER, PCSC_SESSION, PROFILES).  Exit status: number of failed profiles.
O=/hilout
. $O/config.sh
now() { cut -d' ' -f1 /proc/uptime; }
ip link set lo up
modprobe vhci-hcd 2>/dev/null
mkdir -p /run/pcscd
failed=0
summary=$O/summary.txt
: > $summary

wait_for() {  # wait_for TENTHS COMMAND...
	n=$1; shift
	while [ "$n" -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; n=$((n - 1)); done
	return 1
}

# pcscd binds USB readers to drivers by VID/PID from each bundle's Info.plist
# (hotplug_libudev.c: even libccid's CCIDCLASSDRIVER matches only listed IDs).
# Add the virtual reader's pid.codes test ID to libccid's list, in the guest's
# writable overlay only, as a user does for a reader libccid does not list yet.
plist=/usr/lib/pcsc/drivers/ifd-ccid.bundle/Contents/Info.plist
awk '{ print }
     /<key>ifdVendorID<\/key>/ { k = "0x1209" }
     /<key>ifdProductID<\/key>/ { k = "0x0001" }
     /<key>ifdFriendlyName<\/key>/ { k = "uccid virtual reader" }
     /<array>/ && k != "" { print "\t\t<string>" k "</string>"; k = "" }' $plist > /tmp/Info.plist.vr
cat /tmp/Info.plist.vr > $plist
grep -c 0x1209 $plist

for p in $PROFILES; do
	echo "== profile $p ($(now)s)"
	log=$O/$p
	ok=1
	note() { echo "$p: $*"; echo "$p: $*" >> $summary; }
	"$VREADER" --profile "$p" --port 3240 > $log.vreader.log 2>&1 &
	vr=$!
	if ! wait_for 50 grep -q '^listening' $log.vreader.log; then
		note "FAIL uccid-vreader did not start"; cat $log.vreader.log; failed=$((failed + 1)); kill $vr; continue
	fi
	ATR=$(sed -n 's/.*, ATR \(.*\)$/\1/p' $log.vreader.log | head -1 | tr -d ' ')
	usbip list -r 127.0.0.1 > $log.usbip-list.txt 2>&1
	grep -q '1209:0001' $log.usbip-list.txt || { note "FAIL usbip list -r"; ok=0; }
	usbip attach -r 127.0.0.1 -b 1-1 || { note "FAIL usbip attach"; ok=0; }
	wait_for 50 sh -c 'lsusb | grep -q 1209:0001' || { note "FAIL device did not appear"; ok=0; }
	sleep 0.5
	lsusb -v -d 1209:0001 > $log.lsusb-v.txt 2>&1
	# lsusb qualifies its own decoding of any bcdCCID but 1.00 ("Only accurate
	# for version 1.0"): that note is about lsusb, not the device, so it is not counted.
	if grep -v 'Only accurate for version 1.0' $log.lsusb-v.txt | grep -n -i -E 'warning|unrecognized|invalid|too short|bogus'; then
		note "FAIL lsusb -v complains"; ok=0
	fi
	grep -q 'ChipCard Interface Descriptor' $log.lsusb-v.txt || { note "FAIL lsusb did not decode the CCID descriptor"; ok=0; }
	pcscd -f -d > $log.pcscd.log 2>&1 &
	pc=$!
	wait_for 100 test -S /run/pcscd/pcscd.comm || { note "FAIL pcscd socket"; ok=0; }
	readers=0
	for i in $(seq 1 50); do
		readers=$(timeout 10 opensc-tool -l 2>/dev/null | grep -c -E '^[0-9]+ ')
		[ "$readers" -gt 0 ] && break
		sleep 0.2
	done
	want=1; [ "$p" = multi-slot ] && want=4
	[ "$readers" -eq "$want" ] || { note "FAIL pcscd lists $readers readers, want $want"; ok=0; }
	timeout 20 opensc-tool -l > $log.opensc-l.txt 2>&1
	timeout 20 opensc-tool -r 0 -a > $log.atr.txt 2>&1
	atr=$(grep -i -E '^[0-9a-f]{2}([: ][0-9a-f]{2})+' $log.atr.txt | head -1 | tr -d ': \n' | tr 'a-f' 'A-F')
	[ "$atr" = "$ATR" ] || { note "FAIL opensc-tool -a printed '$atr', want '$ATR'"; ok=0; }
	ext=; [ "$p" = extended-apdu ] && ext=--extended
	for r in $(seq 0 $((want - 1))); do
		if ! timeout 60 "$PCSC_SESSION" --reader $r $ext --atr "$ATR" > $log.session$r.txt 2>&1; then
			note "FAIL pcsc-session on reader $r:"; grep -E 'FAIL|passed' $log.session$r.txt; ok=0
		fi
	done
	kill $pc; wait $pc 2>/dev/null
	usbip detach -p 0 > /dev/null 2>&1 || usbip detach -p 8 > /dev/null 2>&1
	kill $vr; wait $vr 2>/dev/null
	wait_for 30 sh -c '! lsusb | grep -q 1209:0001'
	if [ $ok = 1 ]; then
		note "ok (libccid: $(grep -c '^ok' $log.session0.txt) checks on reader 0, ATR $atr)"
	else
		failed=$((failed + 1))
	fi
done
echo "== done ($(now)s), $failed profiles failed"
exit $failed
