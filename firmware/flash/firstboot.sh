#!/bin/sh
# edgeclass first boot, written by 'edgeclass flash' into the boot partition
# at edgeclass/firstboot.sh. Raspberry Pi OS runs it once through
# systemd.run= on the kernel command line; cloud-init images through
# runcmd. It sets what the files beside it ask for (host name, user and SSH
# key, Wi-Fi), installs the agent package and the device's identity, then
# removes itself, its secrets and its kernel command line hook. The log
# stays in the boot partition: edgeclass-firstboot.log.
set -eu

DIR=$(cd "$(dirname "$0")" && pwd)
BOOT=$(dirname "$DIR")
exec >>"$BOOT/edgeclass-firstboot.log" 2>&1
echo "edgeclass first boot, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), from $DIR"

# Whatever happens, the next boot must be a normal one, and no secret may
# stay on the FAT partition (readable by anyone holding the card).
cleanup() {
	status=$?
	if [ -f "$BOOT/cmdline.txt" ]; then
		sed -i -e 's# systemd\.run=[^ ]*##g' -e 's# systemd\.run_success_action=[^ ]*##g' \
			-e 's# systemd\.run_failure_action=[^ ]*##g' -e 's# systemd\.unit=kernel-command-line\.target##g' \
			"$BOOT/cmdline.txt"
	fi
	rm -rf "$DIR"
	if [ "$status" = 0 ]; then echo "edgeclass first boot: done"; else echo "edgeclass first boot: FAILED (status $status)"; fi
	sync
}
trap cleanup EXIT

if [ -f "$DIR/hostname" ]; then
	name=$(cat "$DIR/hostname")
	echo "host name: $name"
	echo "$name" >/etc/hostname
	if grep -q '^127\.0\.1\.1' /etc/hosts 2>/dev/null; then
		sed -i "s/^127\.0\.1\.1.*/127.0.1.1\t$name/" /etc/hosts
	else
		printf '127.0.1.1\t%s\n' "$name" >>/etc/hosts
	fi
fi

if [ -f "$DIR/authorized_keys" ]; then
	user=$(cat "$DIR/user")
	if ! id "$user" >/dev/null 2>&1; then
		# Raspberry Pi OS ships a first user (uid 1000) waiting to be
		# renamed by its setup wizard: rename it, as the wizard would.
		first=$(getent passwd 1000 | cut -d: -f1 || true)
		if [ -n "$first" ]; then
			echo "user: renaming $first to $user"
			usermod -l "$user" -d "/home/$user" -m "$first"
			if getent group "$first" >/dev/null; then groupmod -n "$user" "$first"; fi
		else
			echo "user: creating $user"
			useradd -m -s /bin/bash "$user"
		fi
		for g in sudo video adm; do
			if getent group "$g" >/dev/null; then usermod -a -G "$g" "$user"; fi
		done
	fi
	home=$(getent passwd "$user" | cut -d: -f6)
	group=$(id -gn "$user")
	install -d -m 0700 -o "$user" -g "$group" "$home/.ssh"
	cat "$DIR/authorized_keys" >>"$home/.ssh/authorized_keys"
	chown "$user:$group" "$home/.ssh/authorized_keys"
	chmod 0600 "$home/.ssh/authorized_keys"
	echo "ssh: key installed for $user"
	# The wizard's sshd drop-in and service would block log-ins.
	rm -f /etc/ssh/sshd_config.d/rename_user.conf
	if command -v systemctl >/dev/null 2>&1; then
		systemctl disable userconfig.service >/dev/null 2>&1 || true
		systemctl enable ssh.service >/dev/null 2>&1 || true
	fi
fi

if [ -f "$DIR/wifi-country" ]; then
	country=$(cat "$DIR/wifi-country")
	if [ -d /etc/NetworkManager/system-connections ]; then
		install -m 0600 "$DIR/wifi.nmconnection" /etc/NetworkManager/system-connections/edgeclass-wifi.nmconnection
		echo "wifi: NetworkManager connection installed"
	else
		mkdir -p /etc/wpa_supplicant
		install -m 0600 "$DIR/wpa_supplicant.conf" /etc/wpa_supplicant/wpa_supplicant.conf
		echo "wifi: wpa_supplicant configuration installed"
	fi
	# The radio stays blocked until a country is set.
	if command -v raspi-config >/dev/null 2>&1; then
		raspi-config nonint do_wifi_country "$country" || true
	fi
	for f in /var/lib/systemd/rfkill/*:wlan; do
		if [ -f "$f" ]; then echo 0 >"$f"; fi
	done
fi

# The device's identity and configuration go in before the package, so
# dpkg keeps them (--force-confold) instead of the packaged default.
if [ -d "$DIR/etc" ]; then
	mkdir -p /etc/edgeclass
	cp -R "$DIR/etc/." /etc/edgeclass/
	echo "identity: installed in /etc/edgeclass"
fi
if [ -f "$DIR/edgeclass.deb" ]; then
	echo "package: installing"
	if ! DEBIAN_FRONTEND=noninteractive dpkg --force-confdef --force-confold -i "$DIR/edgeclass.deb"; then
		# Missing dependencies come from the network, if there is one yet.
		DEBIAN_FRONTEND=noninteractive apt-get -y -o Dpkg::Options::=--force-confold -f install
	fi
fi
if getent group edgeclass >/dev/null; then
	# Keys and configuration: readable by the agent's group, nobody else.
	chown -R root:edgeclass /etc/edgeclass
	find /etc/edgeclass -type d -exec chmod 0750 {} +
	find /etc/edgeclass -type f -exec chmod 0640 {} +
	echo "identity: owned by root:edgeclass"
fi
