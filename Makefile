# Build, run and test ngx_http_credential_module against Debian's nginx.
#
#   make          build build/ngx_http_credential_module.so
#   make run      start nginx on an example config with stand-in partner APIs,
#                 until Ctrl-C (make run ONCE=1: the demo once, then exit)
#   make test     run every test in t/ (prove), TEST_JOBS files at once
#   make static   build build/static/nginx: nginx with the module built in
#                 (--add-module), from the complete source of Debian's nginx
#   make test-static  every test in t/ against build/static/nginx
#   make bench    IP lists, token, body injection, AWS signing, many credentials: ratios (bench/)
#   make fuzz     libFuzzer on every parser
#   make deps-check  fails on a call from a lower file to a higher one
#   make deb      the Debian package, build/deb/libnginx-mod-http-credential_*.deb
#   make deb-test installs that package in a clean Debian 12 chroot, nginx -t
#   make check-debian13  builds and tests the module in a Debian 13 chroot
#
# NGINX_SRC may point to any nginx >= 1.22 source tree; by default the
# headers and configure script of Debian's nginx-dev are used, with the
# flags the stock /usr/sbin/nginx was built with, so the module loads
# into it.  The static build needs a complete source tree: NGINX_FULL_SRC,
# by default Debian's source of the installed nginx (tools/nginx-source),
# configured with the same flags (NGINX_SRC's conf_flags).

NGINX_SRC   ?= /usr/share/nginx/src
NGINX_BIN   ?= /usr/sbin/nginx
BUILD       := $(CURDIR)/build
MODULE      := $(BUILD)/ngx_http_credential_module.so
SOURCES     := config VERSION $(wildcard src/*.c src/*.h)

DEBS        := nginx nginx-dev libssl-dev libpcre2-dev zlib1g-dev \
               libhiredis-dev libjansson-dev redis-server gcc make perl \
               libio-socket-ssl-perl openssl curl wrk \
               libnginx-mod-http-lua python3-prometheus-client \
               python3-jwt python3-cryptography python3-botocore valgrind
# the static build: apt-get source applies Debian's patches with dpkg-source
STATIC_DEBS := dpkg-dev
# t/53 runs oidc-provider (npm, t/lib/oidc): installed only where node or
# npm is missing, since Debian's npm conflicts with nodejs packages that
# bring their own npm (NodeSource's)
NODE_DEBS   := nodejs npm
OIDC        := t/lib/oidc
OIDC_STAMP  := $(OIDC)/node_modules/.installed

# test files mostly wait (for nginx, for mocks, for timeouts), so more run
# at once than there are cores (with 8 the two cores of CI were idle a
# third of the run); each takes its ports under a lock (t/lib/TestPort.pm)
# and keeps its files in temporary directories
TEST_JOBS   ?= 14
# the longest files first: prove -j starts files in this order, and one of
# a minute started last would add its minute to the run; the files of 9 s
# and more, by their wall time in a make test run (-j14 on 2 cores), so
# that the run ends with files of a few seconds
TESTS_FIRST := t/14-json-scan.t t/06-token-failures.t \
               t/51-redis-tls-refused.t t/55-redis-cluster.t \
               t/65-redis-channel-ha.t t/54-redis-sentinel.t \
               t/07-token-partners.t t/16-redis-outage.t t/17-oauth-code.t \
               t/21-directive-tables.t t/18-oauth-redis.t t/22-status.t \
               t/48-login-client-auth.t t/41-refusal-storm.t \
               t/51-redis-tls.t t/15-redis-fleet.t t/56-login-concurrency.t \
               t/10-token-edges.t t/13-body-config.t t/32-oauth-refresh.t \
               t/59-redis-idle.t t/24-examples.t t/34-answer-cut.t \
               t/37-retry-after.t t/55-redis-cluster-tls.t \
               t/60-answer-crash.t t/23-status-html.t t/12-answer.t \
               t/19-oauth-edges.t t/47-sigv4.t t/64-redis-channel.t \
               t/44-expiry-margin.t t/01-config.t t/57-zone-full.t \
               t/38-lease-expiry.t t/58-store-reclaim.t t/05-token-nilo.t \
               t/00-deps.t t/30-redis-caps.t t/45-proxy-cache.t t/11-body.t \
               t/63-review3-poller-killed.t t/35-expiry-dates.t \
               t/09-token-resolver.t t/52-http-signature.t \
               t/53-oidc-provider.t t/66-review2-channel-silent.t \
               t/33-body-hardening.t t/46-redis-outage-once.t
# the TLS tests' certificates: one set, made once (t/lib/TestServer/Certs.pm)
TEST_ENV    := TEST_CERT_CACHE=$(BUILD)/test-certs
TESTS       := $(TESTS_FIRST) \
               $(filter-out $(TESTS_FIRST),$(sort $(wildcard t/*.t)))

STATIC      := $(BUILD)/static
STATIC_BIN  := $(STATIC)/nginx
NGINX_FULL_SRC ?= $(STATIC)/nginx-src

.PHONY: all deps run test unit bench bench-deps fuzz clean deps-check static \
        test-static deps-static deb deb-deps deb-test check-debian13 \
        oidc-deps

all: $(MODULE)

# install what is missing; apt-get only runs when something is.  Installing
# nginx and redis-server must not start them (on public ports, with the
# stock configuration): as in .ci/run, a policy-rc.d that says 101 ("not
# allowed") stops the packages' scripts from starting services while
# apt-get runs, and goes away after it, also on failure or Ctrl-C; one that
# was there before is left alone.
deps:
	@# one dpkg-query for every package (a process costs 10 ms on CI's VM)
	@installed=$$(dpkg-query -W -f='$${Status} $${Package}\n' $(DEBS) \
	        2>/dev/null | sed -n 's/^install ok installed //p' | tr '\n' ' '); \
	missing=""; for p in $(DEBS); do \
	    case " $$installed" in \
	        *" $$p "*) ;; *) missing="$$missing $$p" ;; \
	    esac; \
	done; \
	if ! command -v node >/dev/null 2>&1 \
	   || ! command -v npm >/dev/null 2>&1; then \
	    missing="$$missing $(NODE_DEBS)"; \
	fi; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    if [ ! -e /usr/sbin/policy-rc.d ]; then \
	        trap '$$SUDO rm -f /usr/sbin/policy-rc.d' EXIT; \
	        trap 'exit 130' INT TERM HUP; \
	        printf '#!/bin/sh\nexit 101\n' \
	            | $$SUDO tee /usr/sbin/policy-rc.d >/dev/null && \
	        $$SUDO chmod 755 /usr/sbin/policy-rc.d || exit 1; \
	    fi; \
	    $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	        --no-install-recommends $$missing; \
	fi

# ./configure (a hundred feature tests, one after another) runs again only
# when what it reads changed: the nginx tree and its flags, config (the
# module's files) and VERSION; otherwise nginx's objs/Makefile recompiles
# the changed sources, as it knows their headers
$(MODULE): $(SOURCES)
	@mkdir -p $(BUILD)
	@id="$(NGINX_SRC) $$(cat $(NGINX_SRC)/conf_flags \
	        $(NGINX_SRC)/src/core/nginx.h config VERSION 2>/dev/null \
	        | md5sum)"; \
	if [ -f $(BUILD)/nginx/objs/Makefile ] \
	   && [ "$$(cat $(BUILD)/nginx/.configured 2>/dev/null)" = "$$id" ]; \
	then \
	    echo "$(BUILD)/nginx: configured for this tree already"; \
	    exit 0; \
	fi; \
	echo "configure $(NGINX_SRC) in $(BUILD)/nginx"; \
	rm -rf $(BUILD)/nginx && cp -r $(NGINX_SRC) $(BUILD)/nginx \
	    && cd $(BUILD)/nginx || exit 1; \
	    flags=""; \
	    if [ -f conf_flags ]; then \
	        flags=$$(bash -c '. ./conf_flags; echo "$${NGX_CONF_FLAGS[@]}"'); \
	    fi; \
	    ./configure --with-compat $$flags \
	        --add-dynamic-module=$(CURDIR) > $(BUILD)/configure.log 2>&1 \
	    || { tail -20 $(BUILD)/configure.log; exit 1; }; \
	echo "$$id" > $(BUILD)/nginx/.configured
	$(MAKE) -C $(BUILD)/nginx -f objs/Makefile -j$$(nproc) modules \
	    CFLAGS_EXTRA=
	@# a new file, renamed: a running nginx keeps the one it mapped
	cp $(BUILD)/nginx/objs/ngx_http_credential_module.so $(MODULE).tmp
	mv -f $(MODULE).tmp $(MODULE)
	@echo "built $(MODULE)"

# the npm packages of t/lib/oidc, as package-lock.json pins them: again
# only when the lock file is newer than the last install
oidc-deps: deps
	@$(MAKE) --no-print-directory $(OIDC_STAMP)

$(OIDC_STAMP): $(OIDC)/package.json $(OIDC)/package-lock.json
	cd $(OIDC) && npm ci --no-audit --no-fund
	touch $@

deps-static:
	@$(MAKE) --no-print-directory deps DEBS="$(DEBS) $(STATIC_DEBS)"

# nginx with the module built in: the configure flags of the dynamic build
# (with --with-compat: t/04 loads Debian's lua module into it), and
# --add-module.  The binary is build/static/nginx; the nginx source tree
# and its objects stay in build/static/build.
static: $(STATIC_BIN)

$(STATIC_BIN): $(SOURCES)
	@mkdir -p $(STATIC)
	@if [ "$(NGINX_FULL_SRC)" = "$(STATIC)/nginx-src" ]; then \
	    tools/nginx-source $(NGINX_FULL_SRC) $(STATIC)/apt; \
	elif [ ! -f "$(NGINX_FULL_SRC)/src/core/nginx.c" ]; then \
	    echo "NGINX_FULL_SRC=$(NGINX_FULL_SRC): not a complete nginx" \
	         "source tree"; exit 1; \
	fi
	rm -rf $(STATIC)/build && cp -r $(NGINX_FULL_SRC) $(STATIC)/build
	cd $(STATIC)/build && \
	    flags=""; \
	    if [ -f $(NGINX_SRC)/conf_flags ]; then \
	        flags=$$(bash -c '. $(NGINX_SRC)/conf_flags; \
	                          echo "$${NGX_CONF_FLAGS[@]}"'); \
	    fi; \
	    ./configure --with-compat $$flags \
	        --add-module=$(CURDIR) > $(STATIC)/configure.log 2>&1 \
	    || { tail -20 $(STATIC)/configure.log; exit 1; }
	$(MAKE) -C $(STATIC)/build -f objs/Makefile -j$$(nproc) binary \
	    CFLAGS_EXTRA= > $(STATIC)/make.log 2>&1 \
	    || { grep -B2 -A10 -m5 'error' $(STATIC)/make.log \
	         || tail -40 $(STATIC)/make.log; exit 1; }
	cp $(STATIC)/build/objs/nginx $(STATIC_BIN).tmp
	mv -f $(STATIC_BIN).tmp $(STATIC_BIN)
	@echo "built $(STATIC_BIN)"

unit:
	@mkdir -p $(BUILD)
	cc -Wall -Wextra -Werror -O1 -g -Isrc -o $(BUILD)/edge_auth_unit \
	    t/unit/edge_auth_unit.c src/ngx_edge_auth_cidr.c \
	    src/ngx_edge_auth_lpm.c

# the tests that need no module: the C unit tests and t/14 (each compiles
# its own program), a quarter of the suite's CPU outside nginx's; they run
# while the module builds, on the core that nginx's ./configure (one shell
# command after another, 30 s) leaves idle, t/14 (the longest) first
TESTS_UNIT   = $(filter t/14-json-scan.t t/00-unit%,$(TESTS))
TESTS_MODULE = $(filter-out $(TESTS_UNIT),$(TESTS))

# $(1), built while npm ci installs t/lib/oidc's packages (npm mostly
# waits for the network; on a fresh clone it took 10 s of make test) and
# prove runs $(TESTS_UNIT), niced: the build comes first; then $(2) (the
# tests of the module) while the last of those may still run; their output
# comes after the build's and $(2)'s, and any of the four failing fails
define build_and_test
	@mkdir -p $(BUILD); \
	$(MAKE) -s --no-print-directory $(OIDC_STAMP) \
	    > $(BUILD)/oidc-deps.log 2>&1 & npm=$$!; \
	unit=""; \
	if [ -n "$(TESTS_UNIT)" ]; then \
	    nice -n 10 prove -j2 -I t/lib $(TESTS_UNIT) \
	        > $(BUILD)/test-unit.log 2>&1 & \
	    unit=$$!; \
	fi; \
	$(MAKE) --no-print-directory $(1); rc=$$?; \
	wait $$npm; npm_rc=$$?; \
	cat $(BUILD)/oidc-deps.log; \
	test_rc=0; \
	if [ $$rc = 0 ] && [ $$npm_rc = 0 ] && [ -n "$(TESTS_MODULE)" ]; then \
	    echo '$(strip $(2))'; \
	    $(2); test_rc=$$?; \
	fi; \
	unit_rc=0; \
	if [ -n "$$unit" ]; then \
	    wait $$unit; unit_rc=$$?; \
	    echo "prove -j2 -I t/lib $(TESTS_UNIT)"; \
	    cat $(BUILD)/test-unit.log; \
	fi; \
	[ $$rc = 0 ] && [ $$npm_rc = 0 ] && [ $$test_rc = 0 ] \
	    && [ $$unit_rc = 0 ]
endef

test: deps
	$(call build_and_test,$(MODULE),NGINX_BIN=$(NGINX_BIN) \
	    MODULE=$(MODULE) $(TEST_ENV) \
	    prove -j$(TEST_JOBS) -I t/lib $(TESTS_MODULE))

# the same tests, nginx with the module built in: no load_module
# (MODULE=none), t/00-deps.t on the static build's objects
test-static: deps-static
	$(call build_and_test,$(STATIC_BIN),NGINX_BIN=$(STATIC_BIN) \
	    MODULE=none $(TEST_ENV) OBJDIR=$(STATIC)/build/objs/addon/src \
	    prove -j$(TEST_JOBS) -I t/lib $(TESTS_MODULE))

# the layers are in tools/deps-check; the calls come from the objects
deps-check: $(MODULE)
	perl tools/deps-check $(BUILD)/nginx/objs/addon/src

# runs until Ctrl-C; ONCE=1 (run/run.pl --once) stops after the demo and
# exits 1 if an answer was not the expected one
ONCE ?=
run: deps $(MODULE)
	@if [ -n "$(ONCE)" ]; then \
	    echo "make run ONCE=1: the demo once, then nginx and the stand-ins stop"; \
	else \
	    echo "make run: runs until Ctrl-C; to run the demo once and exit:" \
	         "make run ONCE=1 (or perl run/run.pl --once)"; \
	fi
	NGINX_BIN=$(NGINX_BIN) MODULE=$(MODULE) perl run/run.pl $(if $(ONCE),--once)

# the benches count instructions under valgrind; Lua and njs are the
# token bench's peers (installed only when missing); each bench writes its
# headline figures to build/bench/NAME.json, bench/summary.py prints them
# g++ and libsimdjson-dev: the JSON checker's peer in bench/body_bench.py
BENCH_DEBS  := valgrind libnginx-mod-http-lua libnginx-mod-http-js g++ \
               libsimdjson-dev

bench-deps: deps
	@sh tools/apt-missing $(BENCH_DEBS)

bench: deps bench-deps $(MODULE)
	@mkdir -p $(BUILD)/bench && date +%s > $(BUILD)/bench/.since
	NGINX_BIN=$(NGINX_BIN) MODULE=$(MODULE) bash bench/run.sh
	NGINX_BIN=$(NGINX_BIN) MODULE=$(MODULE) bash bench/token.sh
	NGINX_BIN=$(NGINX_BIN) MODULE=$(MODULE) bash bench/body.sh
	NGINX_BIN=$(NGINX_BIN) MODULE=$(MODULE) bash bench/sigv4.sh
	NGINX_BIN=$(NGINX_BIN) MODULE=$(MODULE) bash bench/scale.sh
	NGINX_BIN=$(NGINX_BIN) MODULE=$(MODULE) bash bench/scale_store.sh
	@BENCH_SINCE=$$(cat $(BUILD)/bench/.since) python3 bench/summary.py

# libFuzzer on every parser (clang from Debian), FUZZ_SECONDS each
FUZZ_SECONDS ?= 60
FUZZERS      := cidr:ngx_edge_auth_cidr.c+ngx_edge_auth_lpm.c \
                lpm:ngx_edge_auth_lpm.c \
                http_parse:ngx_edge_auth_http_parse.c \
                iso8601:ngx_edge_auth_iso8601.c \
                json_scan:ngx_edge_auth_json_scan.c+../fuzz/json_scan_scalar.c \
                state:ngx_edge_auth_state.c
# libcrypto for the state codec's HMAC, jansson for the JSON checker's
# verdicts; the other fuzzers ignore them
FUZZ_LIBS    := -lcrypto -ljansson
fuzz:
	@mkdir -p $(BUILD)
	@set -e; for f in $(FUZZERS); do \
	    name=$${f%%:*}; srcs=$$(echo $${f#*:} | sed 's#+# src/#g'); \
	    echo "== $$name"; \
	    clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
	        -o $(BUILD)/$${name}_fuzz fuzz/$${name}_fuzz.c src/$$srcs \
	        $(FUZZ_LIBS); \
	    mkdir -p $(BUILD)/fuzz-$$name; \
	    $(BUILD)/$${name}_fuzz -max_total_time=$(FUZZ_SECONDS) \
	        -max_len=4096 $(BUILD)/fuzz-$$name fuzz/corpus-$$name \
	        > $(BUILD)/fuzz-$$name.log 2>&1 \
	    || { tail -40 $(BUILD)/fuzz-$$name.log; exit 1; }; \
	    tail -1 $(BUILD)/fuzz-$$name.log; \
	done

# The Debian package, built by dh with nginx-dev's nginx_mod buildsystem
# and dh_nginx (debian/) in a copy of the tree under build/deb/, so the
# module's own build in build/nginx is left alone. Its version is VERSION's:
# debian/changelog must agree (a new VERSION needs a changelog entry).
DEB_NAME    := libnginx-mod-http-credential
DEB_VERSION  = $(shell cat VERSION)
DEB_ARCH     = $(shell dpkg --print-architecture)
DEB_DIR     := $(BUILD)/deb
DEB_FILE     = $(DEB_DIR)/$(DEB_NAME)_$(DEB_VERSION)_$(DEB_ARCH).deb
DEB_BUILD_DEBS := build-essential debhelper dpkg-dev fakeroot nginx-dev libhiredis-dev \
               libjansson-dev libssl-dev libpcre2-dev zlib1g-dev gcc make
# the clean chroots of deb-test and check-debian13, kept between runs
CHROOTS     := $(BUILD)/chroot

deb-deps:
	@sh tools/apt-missing $(DEB_BUILD_DEBS)

DEB_INPUTS  := $(SOURCES) README.md CHANGES LICENSE \
               $(filter-out debian/source,$(wildcard debian/*)) \
               $(wildcard debian/source/* conf.examples/*)

deb: $(DEB_FILE)

# rebuilt when a file it is made of changes
$(DEB_FILE): $(DEB_INPUTS) | deb-deps
	@v=$$(dpkg-parsechangelog -l debian/changelog -S Version); \
	if [ "$$v" != "$(DEB_VERSION)" ]; then \
	    echo "debian/changelog says $$v, VERSION says $(DEB_VERSION):"; \
	    echo "add an entry: dch -v $(DEB_VERSION) (or edit debian/changelog)"; \
	    exit 1; \
	fi
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src
	@# the files git knows (or, outside git, the tree without build/)
	if git rev-parse --show-toplevel >/dev/null 2>&1; then \
	    git ls-files -z --cached --others --exclude-standard \
	        | xargs -0 -I{} sh -c '[ ! -e "{}" ] || echo "{}"' \
	        | tar -cf - -T - | tar -xf - -C $(DEB_DIR)/src; \
	else \
	    tar -cf - --exclude=./build --exclude=./.git . \
	        | tar -xf - -C $(DEB_DIR)/src; \
	fi
	cd $(DEB_DIR)/src && dpkg-buildpackage -b -us -uc \
	    > $(DEB_DIR)/build.log 2>&1 \
	    || { tail -40 $(DEB_DIR)/build.log; exit 1; }
	@dpkg-deb -f $(DEB_FILE) Package Version Depends
	@echo "built $(DEB_FILE)"

# install the package into a clean minbase chroot of this machine's Debian
# release (bookworm on Debian 12) with apt, which must resolve its Depends,
# then nginx -t a config that uses it
DEB_SUITE   ?= $(shell . /etc/os-release && echo $$VERSION_CODENAME)
deb-test: deb
	bash tools/deb-test $(DEB_FILE) $(DEB_SUITE) $(CHROOTS)

# a Debian 13 (minbase) chroot: build the module from this tree, nginx -t,
# the test suite, the package, and the refusal of a Debian 12 package
check-debian13:
	bash tools/check-debian13 trixie $(CHROOTS)

clean:
	rm -rf $(BUILD)
