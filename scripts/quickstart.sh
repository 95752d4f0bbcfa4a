#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Quick start, part one: install what is missing, build everything, and run
# the furthest end-to-end job there is: the uccid tool explaining a real
# card's ATR and a real reader's descriptors.
set -eu
. "$(dirname "$0")/common.sh"
uccid_install_deps
uccid_build
uccid="$BUILD/driver/tool/uccid"
set -x
# The ATR of QEMU's emulated CAC card.
"$uccid" decode atr 3B 7A 18 00 00 73 66 74 65 20 63 64 31 34 34
# A whole configuration of an ACS ACR38U: interface, CCID class descriptor, endpoints.
"$uccid" decode descriptor \
	09 02 5D 00 01 01 00 80 32 09 04 00 00 03 0B 00 00 00 \
	36 21 00 01 00 07 03 00 00 00 A0 0F 00 00 A0 0F 00 00 00 00 2A 00 00 90 D0 03 00 00 \
	F7 00 00 00 00 00 00 00 00 00 00 00 30 00 01 00 0F 01 00 00 00 00 00 00 00 01 \
	07 05 81 02 40 00 00 07 05 02 02 40 00 00 07 05 83 03 08 00 10
# A TPDU-level reader carrying a T=1 I-block (SELECT MF) to the card, the
# block itself, and the reader's answer with the card's block (SW 90 00).
"$uccid" decode message 6F 0B 00 00 00 00 01 00 00 00 00 00 07 00 A4 00 0C 02 3F 00 92
"$uccid" decode block 00 00 07 00 A4 00 0C 02 3F 00 92
"$uccid" decode message 80 06 00 00 00 00 01 00 00 00 00 00 02 90 00 92
