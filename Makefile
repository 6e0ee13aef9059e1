# Build, run and test ngx_http_credential_module against Debian's nginx.
#
#   make          build build/ngx_http_credential_module.so
#   make run      start nginx on an example config with stand-in partner APIs
#   make test     run every test in t/ (prove), TEST_JOBS files at once
#   make bench    IP lists, token and body injection, as ratios (bench/)
#   make fuzz     libFuzzer on every parser
#   make deps-check  fails on a call from a lower file to a higher one
#
# NGINX_SRC may point to any nginx >= 1.22 source tree; by default the
# headers and configure script of Debian's nginx-dev are used, with the
# flags the stock /usr/sbin/nginx was built with, so the module loads
# into it.

NGINX_SRC   ?= /usr/share/nginx/src
NGINX_BIN   ?= /usr/sbin/nginx
BUILD       := $(CURDIR)/build
MODULE      := $(BUILD)/ngx_http_credential_module.so
SOURCES     := config VERSION $(wildcard src/*.c src/*.h)

DEBS        := nginx nginx-dev libssl-dev libpcre2-dev zlib1g-dev \
               libhiredis-dev libjansson-dev redis-server gcc make perl \
               libio-socket-ssl-perl openssl curl wrk \
               libnginx-mod-http-lua python3-prometheus-client

# test files mostly wait (for nginx, for mocks, for timeouts), so more run
# at once than there are cores; each takes its ports under a lock
# (t/lib/TestPort.pm) and keeps its files in temporary directories
TEST_JOBS   ?= 8

.PHONY: all deps run test unit bench fuzz clean deps-check

all: $(MODULE)

# install what is missing; apt-get only runs when something is
deps:
	@missing=""; for p in $(DEBS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null \
	        | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	        --no-install-recommends $$missing; \
	fi

$(MODULE): $(SOURCES)
	@mkdir -p $(BUILD)
	rm -rf $(BUILD)/nginx && cp -r $(NGINX_SRC) $(BUILD)/nginx
	cd $(BUILD)/nginx && \
	    flags=""; \
	    if [ -f conf_flags ]; then \
	        flags=$$(bash -c '. ./conf_flags; echo "$${NGX_CONF_FLAGS[@]}"'); \
	    fi; \
	    ./configure --with-compat $$flags \
	        --add-dynamic-module=$(CURDIR) > $(BUILD)/configure.log 2>&1 \
	    || { tail -20 $(BUILD)/configure.log; exit 1; }
	$(MAKE) -C $(BUILD)/nginx -f objs/Makefile modules \
	    CFLAGS_EXTRA=
	@# a new file, renamed: a running nginx keeps the one it mapped
	cp $(BUILD)/nginx/objs/ngx_http_credential_module.so $(MODULE).tmp
	mv -f $(MODULE).tmp $(MODULE)
	@echo "built $(MODULE)"

unit:
	@mkdir -p $(BUILD)
	cc -Wall -Wextra -Werror -O1 -g -Isrc -o $(BUILD)/edge_auth_unit \
	    t/unit/edge_auth_unit.c src/ngx_edge_auth_cidr.c \
	    src/ngx_edge_auth_lpm.c

test: deps $(MODULE)
	NGINX_BIN=$(NGINX_BIN) MODULE=$(MODULE) prove -j$(TEST_JOBS) -r -I t/lib t/

# the layers are in tools/deps-check; the calls come from the objects
deps-check: $(MODULE)
	perl tools/deps-check $(BUILD)/nginx/objs/addon/src

run: deps $(MODULE)
	NGINX_BIN=$(NGINX_BIN) MODULE=$(MODULE) perl run/run.pl

bench: deps $(MODULE)
	NGINX_BIN=$(NGINX_BIN) MODULE=$(MODULE) bash bench/run.sh
	NGINX_BIN=$(NGINX_BIN) MODULE=$(MODULE) bash bench/token.sh
	NGINX_BIN=$(NGINX_BIN) MODULE=$(MODULE) bash bench/body.sh

# libFuzzer on every parser (clang from Debian), FUZZ_SECONDS each
FUZZ_SECONDS ?= 60
FUZZERS      := cidr:ngx_edge_auth_cidr.c+ngx_edge_auth_lpm.c \
                http_parse:ngx_edge_auth_http_parse.c \
                iso8601:ngx_edge_auth_iso8601.c \
                json_scan:ngx_edge_auth_json_scan.c \
                state:ngx_edge_auth_state.c
# libcrypto for the state codec's HMAC; the other fuzzers ignore it
FUZZ_LIBS    := -lcrypto
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

clean:
	rm -rf $(BUILD)
