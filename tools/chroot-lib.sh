# Debian chroots for deb-test and check-debian13 (sourced by bash).
#
# A minbase chroot per suite is made once with debootstrap and kept in
# CHROOTS/SUITE-base; the tests work on copies of it or on a chroot made
# from it, so a second run downloads little. Every command inside runs
# in its own mount namespace (unshare --mount), so /proc and /dev mounted
# for it disappear with it and never stay mounted under build/; a
# policy-rc.d that refuses every start keeps apt from starting nginx or
# redis-server; run_offline adds a network namespace of its own with only
# a loopback, so whatever listens inside is reachable from nowhere else
# and collides with no port of the host. Processes left behind are ended
# by their pid.

MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}

say() { printf '== %s\n' "$*"; }

# ensure_base SUITE DIR: a minbase chroot of SUITE in DIR, apt lists fresh
ensure_base() {
    local suite=$1 dir=$2
    if [ ! -d "$dir" ]; then
        command -v debootstrap >/dev/null || sh tools/apt-missing debootstrap
        say "debootstrap --variant=minbase $suite (once; kept in $dir)"
        rm -rf "$dir.tmp"
        debootstrap --variant=minbase "$suite" "$dir.tmp" "$MIRROR" \
            > "$dir.log" 2>&1 || { tail -20 "$dir.log"; return 1; }
        mv "$dir.tmp" "$dir"
    fi
    prepare_root "$suite" "$dir"
    # lists older than a day are fetched again
    if [ -z "$(find "$dir/var/lib/apt/lists" -maxdepth 1 -name '*Packages*' \
                 -mmin -1440 2>/dev/null | head -1)" ]; then
        say "apt-get update in $dir"
        in_root "$dir" apt-get update -qq
    fi
}

# prepare_root SUITE DIR: sources with updates and security, DNS, and the
# policy-rc.d that stops any service from starting
prepare_root() {
    local suite=$1 dir=$2
    cat > "$dir/etc/apt/sources.list" <<SRC
deb $MIRROR $suite main
deb $MIRROR $suite-updates main
deb $SECURITY_MIRROR $suite-security main
SRC
    cp -L /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
    printf '#!/bin/sh\nexit 101\n' > "$dir/usr/sbin/policy-rc.d"
    chmod 755 "$dir/usr/sbin/policy-rc.d"
    printf 'APT::Install-Recommends "false";\n' \
        > "$dir/etc/apt/apt.conf.d/99no-recommends"
}

# copy_root FROM TO: a fresh copy of a chroot
copy_root() {
    rm -rf "$2" && cp -a "$1" "$2"
}

_ns_cmd='root=$1; shift
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
'

# in_root DIR CMD...: CMD inside DIR, with the network of the host
in_root() {
    local dir=$1; shift
    unshare --mount --propagation private --fork bash -c "$_ns_cmd"'
        exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
            HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"' \
        ns "$dir" "$@"
    local rc=$?
    end_leftovers "$dir"
    return $rc
}

# run_offline DIR CMD...: CMD inside DIR, in a network namespace of its
# own where only 127.0.0.1 (lo) exists
run_offline() {
    local dir=$1; shift
    unshare --net --mount --propagation private --fork bash -c "$_ns_cmd"'
        ip link set lo up
        exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
            HOME=/root LANG=C.UTF-8 "$@"' \
        ns "$dir" "$@"
    local rc=$?
    end_leftovers "$dir"
    return $rc
}

# end_leftovers DIR: end, by pid, every process whose root is DIR
end_leftovers() {
    local dir pids p
    dir=$(readlink -f "$1")
    for sig in TERM KILL; do
        pids=""
        for p in /proc/[0-9]*; do
            [ "$(readlink "$p/root" 2>/dev/null)" = "$dir" ] \
                && pids="$pids ${p#/proc/}"
        done
        [ -n "$pids" ] || return 0
        echo "ending processes left in $dir:$pids ($sig)"
        kill -$sig $pids 2>/dev/null || true
        sleep 1
    done
}

# the config that nginx -t checks: the module from modules-enabled, a
# credential with a static header, an auth_ip_list, a location using both
write_test_conf() {
    cat > "$1" <<'CONF'
include /etc/nginx/modules-enabled/*.conf;
error_log stderr;
pid /tmp/nginx-check.pid;
events {}
http {
    credential partner {
        header X-Api-Key static-test-key;
    }
    auth_ip_list partners {
        192.0.2.0/24;
        192.0.2.66 deny;
        2001:db8::/32;
    }
    server {
        listen 127.0.0.1:8080;
        location /partner/ {
            auth_ip           partners;
            credential_inject partner;
            proxy_pass        http://127.0.0.1:8081/;
        }
    }
}
CONF
}
