package MockPartner::Base;

# What every partner mock shares (see MockPartner for the interface): the
# settings and behaviours, the state that the test process and the server
# processes share (TestServer::State, plus one file per token), the control
# methods tests call, and the handling of one request: read it, take the
# behaviour for it, count and record it, let the partner's module answer
# (MockPartner::Nilo, ::Amee, ::Octorate, ::OAuth), shape and send the
# answer.  A partner's module gives its kind, its setting defaults, the
# endpoint of a request (route), its answers and its error format.

use strict;
use warnings;

use Carp qw(croak);
use Fcntl qw(:flock);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use JSON::PP;
use MIME::Base64 qw(encode_base64 decode_base64);
use Digest::SHA qw(hmac_sha256);
use POSIX ();
use Scalar::Util qw(weaken);
use Time::HiRes qw(time sleep);
use TestServer;
use MockPartner::TokenStore;

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

my %COMMON = (
    token_lifetime      => 3600,
    expires_in          => undef,
    expire_date         => undef,       # an expireDate as written, or
    expire_date_style   => 'extended',  # extended, basic, hour_offset
    token_type          => 'Bearer',
    chunked             => 0,
    chunk_count         => 4,
    chunk_delay_ms      => 10,
    hang_max            => 60,
    strict_content_type => 1,
    max_runtime         => 3600,
);

my %MODE_KEYS = map { $_ => 1 } qw(status retry_after hang close reset
    garbage huge no_token crlf_token long_token delay_ms truncate no_length
    body content_type headers);

my %META_KEYS = map { $_ => 1 } qw(fail_count sequence for normal);

our %LOGIN_EP = map { $_ => 1 } qw(login refresh token);


# what a partner's module gives (these are placeholders)

sub kind     { croak "MockPartner::Base: no kind" }
sub defaults { {} }
sub route    { 'api' }
sub answer   { croak "MockPartner::Base: no answer" }


sub _is_setting {
    my ($self, $k) = @_;
    return exists $COMMON{$k} || exists $self->defaults->{$k};
}

sub _default {
    my ($self, $k) = @_;
    my $d = $self->defaults;
    return exists $d->{$k} ? $d->{$k} : $COMMON{$k};
}


# ---------------------------------------------------------------- start/stop

sub start {
    my ($class, %a) = @_;

    my $kind = $class->kind;
    my $asked = delete $a{kind};
    croak "MockPartner: $class is kind '$kind', not '$asked'"
        if defined $asked && $asked ne $kind;

    my $port = delete $a{port} // 0;
    my $tls = delete $a{tls} ? 1 : 0;
    my $tickets = delete $a{tls_tickets} // 1;
    my $cert = delete $a{cert};
    my $key = delete $a{key};
    my $dir = delete $a{state_dir};

    my (%settings, %behaviour);
    for my $k (keys %a) {
        if ($class->_is_setting($k)) {
            $settings{$k} = $a{$k};
        } elsif ($MODE_KEYS{$k} || $META_KEYS{$k}) {
            $behaviour{$k} = $a{$k};
        } else {
            croak "MockPartner->start: unknown argument '$k' for kind $kind";
        }
    }

    if (defined $dir) {
        make_path($dir) unless -d $dir;
    } else {
        $dir = tempdir("mock-$kind-XXXXXX", TMPDIR => 1, CLEANUP => 1);
    }

    my $self = bless { kind => $kind, tls => $tls, dir => $dir }, $class;

    if ($tls && !defined $cert) {
        my $c = TestServer::make_certs("$dir/certs");
        $self->{certs} = $c;
        ($cert, $key) = ($c->{cert}, $c->{key});
    }
    croak "MockPartner: tls needs both cert and key"
        if $tls && !defined $key;

    my %s = (%COMMON, %{ $class->defaults });
    $s{$_} = $settings{$_} // $class->_default($_) for keys %settings;

    unlink map { "$dir/$_" } 'requests.jsonl', 'errors.log';
    unlink glob("$dir/last-*.json"), glob("$dir/tokens/*");
    make_path("$dir/tokens");
    $self->{state} = TestServer::State->new($dir, {
        kind => $kind, settings => \%s, settings_ep => {}, modes => {},
        counters => {}, token_seq => 0, issued => 0,
        req_seq => 0, in_flight => {}, max_in_flight => {},
        last_token => undef,
    });

    $self->set(%behaviour) if %behaviour;

    # the server's callbacks must not keep the mock alive: it stops when
    # the test drops it
    my $me = $self;
    weaken($me);

    $self->{server} = TestServer->start(
        name => "mock-partner $kind", port => $port,
        tls => $tls ? { cert => $cert, key => $key, tickets => $tickets }
                    : undef,
        max_runtime => $s{max_runtime},
        errors => "$dir/errors.log", stderr => "$dir/server.log",
        handler => sub { $me->_connection(@_) },
        on_tls_error => sub {
            my ($err) = @_;
            $me->_txn(sub {
                $_[0]{counters}{tls_error}++;
                $_[0]{last_tls_error} = $err;
            });
        });
    $self->{port} = $self->{server}->port;

    return $self;
}


sub stop {
    my ($self) = @_;
    my $srv = $self->{server} or return;
    return $srv->stop;
}


# ------------------------------------------------------------------ accessors

sub port      { $_[0]{port} }
sub pid       { $_[0]{server} && $_[0]{server}->pid }
sub state_dir { $_[0]{dir} }
sub certs     { $_[0]{certs} }
sub url       { $_[0]{server}->url($_[1]) }


# ------------------------------------------------------------------ state

# read-modify-write of the state under an exclusive lock, with the token
# files at hand in $st->{tokens}
sub _txn {
    my ($self, $code) = @_;
    return $self->{state}->txn(sub {
        my ($st) = @_;
        $st->{tokens} = MockPartner::TokenStore->new($self->{dir});
        my @r = $code->($st);
        (delete $st->{tokens})->flush;
        return @r;
    });
}

sub _state {
    my ($self) = @_;
    my $st = $self->{state}->get;
    $st->{tokens} = MockPartner::TokenStore->new($self->{dir}) if $st;
    return $st;
}

sub _lock { $_[0]{state}->lock($_[1]) }


# ------------------------------------------------------------------ control

sub _mode_entry {
    my ($e) = @_;
    my %m;
    if (ref $e eq 'HASH') {
        %m = %$e;
    } elsif (defined $e && $e =~ /^\d+$/) {
        %m = (status => $e);
    } elsif (defined $e && ($MODE_KEYS{$e} || $e eq 'normal')) {
        %m = $e eq 'normal' ? () : ($e => 1);
    } else {
        croak "MockPartner: bad sequence element '" . ($e // 'undef') . "'";
    }
    my $n = delete $m{fail_count} // 1;
    return { m => \%m, n => $n };
}


sub set {
    my ($self, %a) = @_;

    my $kind = $self->{kind};
    my $for = delete $a{for};
    my (%settings, %mode);
    my $replace = 0;

    for my $k (keys %a) {
        if ($META_KEYS{$k}) {
            $replace = 1;
        } elsif ($MODE_KEYS{$k}) {
            $mode{$k} = $a{$k};
            $replace = 1;
        } elsif ($self->_is_setting($k)) {
            $settings{$k} = $a{$k};
        } else {
            croak "MockPartner->set: unknown key '$k' for kind $kind";
        }
    }

    my @queue;
    if ($a{sequence}) {
        croak "MockPartner->set: sequence must be an array ref"
            unless ref $a{sequence} eq 'ARRAY';
        @queue = map { _mode_entry($_) } @{ $a{sequence} };
    } elsif (%mode && !$a{normal}) {
        push @queue, { m => \%mode, n => $a{fail_count} }
            unless defined $a{fail_count} && $a{fail_count} <= 0;
    }

    $self->_txn(sub {
        my ($st) = @_;
        for my $k (keys %settings) {
            if (defined $for) {
                if (defined $settings{$k}) {
                    $st->{settings_ep}{$for}{$k} = $settings{$k};
                } else {
                    delete $st->{settings_ep}{$for}{$k};
                }
            } else {
                $st->{settings}{$k} = $settings{$k} // $self->_default($k);
            }
        }
        $st->{modes}{ $for // '*' } = \@queue if $replace;
    });

    return $self;
}


sub reset {
    my ($self) = @_;
    $self->_txn(sub { $_[0]{modes} = {} });
    return $self;
}


sub setting {
    my ($self, $name) = @_;
    return $self->_state->{settings}{$name};
}


sub counters { $_[0]->_state->{counters} }

sub count {
    my ($self, $key) = @_;
    return $self->_state->{counters}{$key} // 0;
}

sub logins {
    my ($self, $ep) = @_;
    my $c = $self->_state->{counters};
    return $c->{$ep} // 0 if defined $ep;
    my $n = 0;
    $n += $c->{$_} // 0 for keys %LOGIN_EP;
    return $n;
}

sub api_calls { $_[0]->count('api') }

sub max_concurrent {
    my ($self, $ep) = @_;
    my $m = $self->_state->{max_in_flight};
    return $m->{$ep} // 0 if defined $ep;
    return $m->{'*login'} // 0;
}

sub in_flight {
    my ($self, $ep) = @_;
    return $self->_state->{in_flight}{ $ep // '*login' } // 0;
}

sub last_token { $_[0]->_state->{last_token} }

# what went wrong inside connection children (Perl errors), if anything
sub errors {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/errors.log" or return '';
    local $/;
    return <$fh> // '';
}

sub tokens_issued { $_[0]->_state->{issued} // 0 }

sub last_tls_error { $_[0]->_state->{last_tls_error} }


sub _last {
    my ($self, @eps) = @_;
    my $best;
    for my $ep (@eps) {
        my $r = TestServer::State::read_json("$self->{dir}/last-$ep.json")
            or next;
        $best = $r if !$best || $r->{seq} > $best->{seq};
    }
    return $best;
}

sub last_login {
    my ($self, $ep) = @_;
    my $lk = $self->_lock(LOCK_SH);
    return $self->_last(defined $ep ? ($ep) : keys %LOGIN_EP);
}

sub last_api {
    my ($self) = @_;
    my $lk = $self->_lock(LOCK_SH);
    return $self->_last('api');
}

sub requests {
    my ($self, $ep) = @_;
    my $lk = $self->_lock(LOCK_SH);
    open my $fh, '<', "$self->{dir}/requests.jsonl" or return;
    my @r;
    while (my $line = <$fh>) {
        my $r = $JSON->decode($line);
        push @r, $r if !defined $ep || $r->{endpoint} eq $ep;
    }
    return @r;
}


sub reset_counters {
    my ($self) = @_;
    $self->_txn(sub {
        my ($st) = @_;
        $st->{counters} = {};
        $st->{max_in_flight} = {};
        unlink "$self->{dir}/requests.jsonl",
            glob("$self->{dir}/last-*.json");
    });
    return $self;
}


sub expire_tokens {
    my ($self, %o) = @_;
    $self->_txn(sub {
        my ($st) = @_;
        for my $t ($st->{tokens}->all) {
            next if $t->{type} eq 'code';
            next if $t->{type} eq 'refresh' && !$o{refresh};
            $t->{revoked} = 'expired';
        }
    });
    return $self;
}


sub revoke_refresh_tokens {
    my ($self) = @_;
    $self->_txn(sub {
        my ($st) = @_;
        $_->{revoked} = 'revoked'
            for grep { $_->{type} eq 'refresh' } $st->{tokens}->all;
    });
    return $self;
}


sub token_valid {
    my ($self, $tok) = @_;
    my $st = $self->_state;
    return $self->check_token($st, $st->{settings}, $tok, 0) ? 1 : 0;
}


sub wait_for {
    my ($self, $cond, $secs) = @_;
    my $end = time + ($secs // 10);
    while (1) {
        return 1 if $cond->();
        return 0 if time > $end;
        sleep 0.02;
    }
}

sub wait_logins {
    my ($self, $n, $secs) = @_;
    return $self->wait_for(sub { $self->logins >= $n }, $secs);
}


# ------------------------------------------------------------------ tokens

sub _rand_bytes {
    my ($n) = @_;
    my $b = '';
    if (open my $fh, '<:raw', '/dev/urandom') {
        read $fh, $b, $n;
    }
    $b .= chr(int rand 256) while length $b < $n;
    return $b;
}

sub rand_hex { unpack 'H*', _rand_bytes($_[0]) }

sub _b64url {
    my $s = encode_base64($_[0], '');
    $s =~ tr{+/}{-_};
    $s =~ s/=+$//;
    return $s;
}

sub _iso_ms {
    my ($t) = @_;
    my $ms = int(($t - int $t) * 1000);
    return POSIX::strftime('%Y-%m-%dT%H:%M:%S', gmtime int $t)
        . sprintf('.%03dZ', $ms);
}

# the setting expire_date_style: extended (the default, as above), basic
# (20300101T000000Z) or hour_offset (local time at +02, written "+02")
sub _iso_styled {
    my ($t, $style) = @_;
    $style //= 'extended';
    return POSIX::strftime('%Y%m%dT%H%M%SZ', gmtime int $t)
        if $style eq 'basic';
    return POSIX::strftime('%Y-%m-%dT%H:%M:%S+02', gmtime(int($t) + 7200))
        if $style eq 'hour_offset';
    return _iso_ms($t);
}


# an access token (or session) string, shaped by the behaviour
sub _token_string {
    my ($st, $S) = @_;
    my $n = ++$st->{token_seq};
    my $style = $S->{token_style} // 'hex';
    my $tok;

    if ($style eq 'jwt') {
        my $now = int time;
        my $h = _b64url($JSON->encode({ alg => 'HS256', typ => 'JWT' }));
        my $p = _b64url($JSON->encode({
            sub => $S->{client_id} // 'mock', iat => $now,
            exp => $now + int($S->{token_lifetime}), jti => "$n-"
                . rand_hex(6), iss => 'mock-partner' }));
        $tok = "$h.$p." . _b64url(hmac_sha256("$h.$p", 'mock-partner-key'));
    } elsif ($style eq 'base64') {
        $tok = encode_base64(pack('N', $n) . _rand_bytes(60), '');
    } else {
        $tok = "tok-$n-" . rand_hex(8);
    }

    if (my $len = $S->{long_token}) {
        if ($len > length $tok) {
            my $fill = 'abcdef0123456789' x (1 + $len / 16);
            $tok .= substr($fill, 0, $len - length $tok);
        } else {
            $tok = substr($tok, 0, $len);
        }
    }

    if (my $crlf = $S->{crlf_token}) {
        $tok .= $crlf eq '1' ? "\r\nX-Evil: 1" : $crlf;
    }

    return $tok;
}


sub issue_access {
    my ($self, $st, $S, $type) = @_;
    my $tok = _token_string($st, $S);
    my $now = time;
    $st->{tokens}->put($tok, { type => $type // 'access', iat => $now,
        last_used => $now, exp => $now + $S->{token_lifetime} });
    $st->{last_token} = $tok;
    $st->{issued}++;
    return ($tok, $now);
}


sub issue_refresh {
    my ($self, $st) = @_;
    my $tok = 'rt-' . (++$st->{token_seq}) . '-' . rand_hex(12);
    $st->{tokens}->put($tok, { type => 'refresh', iat => time });
    return $tok;
}


# access token or session still good? (touch: an API call keeps it alive)
sub check_token {
    my ($self, $st, $S, $tok, $touch) = @_;
    return undef unless defined $tok;
    my $t = $st->{tokens}->get($tok) or return undef;
    return undef if $t->{revoked};
    my $now = time;
    if ($t->{type} eq 'session') {
        return undef if $now - $t->{iat} >= $S->{max_lifetime};
        return undef if $now - $t->{last_used} >= $S->{idle_timeout};
    } elsif ($t->{type} eq 'access') {
        return undef if $now >= $t->{exp};
    } else {
        return undef;
    }
    $t->{last_used} = $now if $touch;
    return $t;
}



# ------------------------------------------------------------------ requests

# one connection, in a server process (TestServer calls it)
sub _connection {
    my ($self, $c, $conn) = @_;

    $self->_txn(sub { $_[0]{counters}{tls_resumed}++ })
        if $conn->{tls_session_reused};

    my $req = eval { TestServer::read_request($c) };
    if (my $err = $@) {
        $err =~ s/\s+$//;
        $self->_txn(sub { $_[0]{counters}{bad_request}++ });
        my $code = $err =~ /too large/ ? 413 : $err =~ /timeout/ ? 408 : 400;
        TestServer::respond($c, status => $code, ctype => 'text/plain',
                            body => "$err\n", server => 'mock-partner');
        return;
    }
    if (!$req) {
        # connected (and shook hands) but left without a request: what a
        # client does when it refuses the certificate after the handshake
        $self->_txn(sub { $_[0]{counters}{empty_connection}++ });
        return;
    }
    delete @$req{qw(head raw_body)};    # the record has body and headers
    @$req{ keys %$conn } = values %$conn;

    my $ep = $self->route($req);
    $req->{endpoint} = $ep;

    my ($r, $S) = $self->_txn(sub {
        my ($st) = @_;
        return $self->_handle($st, $ep, $req);
    });

    alarm(($S->{hang_max} || 60) + ($S->{delay_ms} || 0) / 1000 + 60);

    $self->_respond($c, $r, $S);

    $self->_txn(sub {
        my ($st) = @_;
        $st->{in_flight}{$ep}-- if $st->{in_flight}{$ep};
        $st->{in_flight}{'*login'}-- if $LOGIN_EP{$ep}
            && $st->{in_flight}{'*login'};
    });
}


sub form_params {
    my ($s) = @_;
    my %p;
    for my $pair (split /[&;]/, $s // '') {
        next if $pair eq '';
        my ($k, $v) = split /=/, $pair, 2;
        for ($k, $v) {
            next unless defined;
            tr/+/ /;
            s/%([0-9a-fA-F]{2})/chr hex $1/ge;
        }
        $v //= '';
        if (exists $p{$k}) {
            $p{$k} = [ ref $p{$k} ? @{ $p{$k} } : $p{$k}, $v ];
        } else {
            $p{$k} = $v;
        }
    }
    return \%p;
}

sub uri_escape {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9._~-])/sprintf '%%%02X', ord $1/ge;
    return $s;
}


sub _take_mode {
    my ($st, $ep) = @_;
    my $q = $st->{modes}{$ep};
    $q = $st->{modes}{'*'} if (!$q || !@$q) && $LOGIN_EP{$ep};
    return {} unless $q && @$q;
    my $e = $q->[0];
    if (defined $e->{n}) {
        $e->{n}--;
        shift @$q if $e->{n} <= 0;
    }
    return { %{ $e->{m} } };
}


sub _handle {
    my ($self, $st, $ep, $req) = @_;

    my $mode = _take_mode($st, $ep);
    my %S = (%{ $st->{settings} }, %{ $st->{settings_ep}{$ep} // {} },
             %$mode);
    my $S = \%S;

    $st->{counters}{$ep}++;
    my $seq = ++$st->{req_seq};
    $req->{seq} = $seq;
    $req->{time} = time;

    for my $k ($ep, $LOGIN_EP{$ep} ? '*login' : ()) {
        my $n = ++$st->{in_flight}{$k};
        $st->{max_in_flight}{$k} = $n
            if $n > ($st->{max_in_flight}{$k} // 0);
    }

    # what every request record carries
    my $h = $req->{headers};
    if (($h->{authorization} // '') =~ /^Basic\s+(\S+)/i) {
        my ($u, $p) = split /:/, decode_base64($1), 2;
        $req->{basic_user} = $u;
        $req->{basic_pass} = $p;
    }
    if (($h->{authorization} // '') =~ /^Bearer\s+(.+)$/i) {
        $req->{bearer} = $1;
    }
    my %cookies;
    for my $line (map { $_->[1] } grep { $_->[0] eq 'cookie' }
                  @{ $req->{header_lines} }) {
        for my $pair (split /;\s*/, $line) {
            my ($k, $v) = split /=/, $pair, 2;
            $cookies{$k} = $v if defined $k && length $k;
        }
    }
    $req->{cookies} = \%cookies;
    $req->{query_params} = form_params($req->{query});
    # json: the body decoded when it is JSON (whatever the Content-Type
    # says, as a lambda behind an API gateway would); params: the form
    # fields when the body is form-urlencoded, otherwise the JSON object
    my $ctype = lc($h->{'content-type'} // '');
    if ($ctype =~ m{json} || $req->{body} =~ /^\s*[\{\[]/) {
        my $j = eval { $JSON->decode($req->{body}) };
        $req->{json} = $j if defined $j;
    }
    if ($ctype =~ m{application/x-www-form-urlencoded}) {
        $req->{params} = form_params($req->{body});
    } elsif (ref $req->{json} eq 'HASH') {
        $req->{params} = $req->{json};
    }
    $req->{params} //= {};

    my $r;
    if ($S->{hang}) {
        $r = { action => 'hang' };
    } elsif ($S->{close}) {
        $r = { action => 'close' };
    } elsif ($S->{reset}) {
        $r = { action => 'reset' };
    } elsif ($S->{status}) {
        $r = $self->error($S->{status}, $ep, $S);
    } else {
        $r = $self->answer($st, $ep, $req, $S);
        $req->{token} = $r->{token} if defined $r->{token};
        $req->{refresh_token} = $r->{refresh_token}
            if defined $r->{refresh_token};
    }

    push @{ $r->{headers} }, ['Retry-After', $S->{retry_after}]
        if defined $S->{retry_after};
    push @{ $r->{headers} }, map { [@$_] } @{ $S->{headers} }
        if ref $S->{headers} eq 'ARRAY';
    if (defined $S->{body}) {
        $r->{body} = $S->{body};
        $r->{ctype} = $S->{content_type} if defined $S->{content_type};
    }

    my $outcome = $r->{action} // $r->{status};
    $req->{status} = $outcome;
    $st->{counters}{"$ep:$outcome"}++;

    # the record, without bodies beyond 1 MB
    my %rec = %$req;
    if (length $rec{body} > (1 << 20)) {
        $rec{body} = substr($rec{body}, 0, 1 << 20);
        $rec{body_truncated} = 1;
    }
    my $line = $JSON->encode(\%rec);
    open my $fh, '>>', "$self->{dir}/requests.jsonl" or die $!;
    print $fh $line, "\n";
    close $fh;
    open $fh, '>', "$self->{dir}/last-$ep.json" or die $!;
    print $fh $line;
    close $fh;

    return ($r, $S);
}


# ------------------------------------------------------------------ answers
# helpers for the partners' modules

my %OAUTH_ERROR = (400 => 'invalid_request', 401 => 'invalid_client',
    403 => 'access_denied', 429 => 'slow_down', 500 => 'server_error',
    503 => 'temporarily_unavailable');

# an error answer in the partner's own format; this one is RFC 6749's
# (Octorate, OAuth); Nilo and AMEE have their own
sub error {
    my ($self, $status, $ep, $S, $error, $desc) = @_;
    my %b = (error => $error // $OAUTH_ERROR{$status} // 'server_error');
    $b{error_description} = $desc if defined $desc;
    return $self->json_answer($status, \%b);
}

sub json_answer {
    my ($self, $status, $data, @headers) = @_;
    return { status => $status, ctype => 'application/json',
             body => $JSON->encode($data), headers => [@headers] };
}

# expires_in / expiresIn / expireDate fields of a token answer
sub expiry_fields {
    my ($self, $S, $now) = @_;
    my $in = $S->{expires_in} // $S->{token_lifetime};
    my $f = $S->{expires_field} // 'expires_in';
    my @f = ref $f eq 'ARRAY' ? @$f : $f eq 'both' ? qw(expires_in expiresIn)
          : ($f);
    my %o;
    for (@f) {
        next if $_ eq 'none';
        if ($_ eq 'expireDate') {
            $o{expireDate} = $S->{expire_date}
                             // _iso_styled($now + $in,
                                            $S->{expire_date_style});
        } else {
            $o{$_} = $in =~ /^-?\d+(?:\.\d+)?$/ ? 0 + $in : $in;
        }
    }
    return %o;
}


# a success answer with a token, shaped by garbage / no_token / huge
sub token_answer {
    my ($self, $S, $fields, $tok, @headers) = @_;
    my %b = %$fields;
    delete $b{access_token} if $S->{no_token};
    my $r = $self->json_answer(200, \%b, @headers);
    $r->{token} = $tok;
    $self->shape($r, $S);
    return $r;
}

sub shape {
    my ($self, $r, $S) = @_;
    if ($S->{garbage}) {
        $r->{body} = "<html><body>Service temporarily degraded &#x1F4A5;"
            . "</body></html>\n";
    } elsif (my $n = $S->{huge}) {
        my $body = $r->{body};
        if ($body =~ /^\{/) {
            my $pad = $n - length($body) - length('"pad":"",');
            $pad = 0 if $pad < 0;
            substr($body, 1, 0) = '"pad":"' . ('x' x $pad) . '",';
        } else {
            my $pad = $n - length($body) - length('<!---->');
            $pad = 0 if $pad < 0;
            $body .= '<!--' . ('x' x $pad) . '-->';
        }
        $r->{body} = $body;
    }
}


sub need_post {
    my ($self, $req, $S, $form) = @_;
    return { status => 405, ctype => 'application/json',
             headers => [['Allow', 'POST']],
             body => '{"message":"Method Not Allowed"}' }
        unless $req->{method} eq 'POST';
    if ($form && $S->{strict_content_type}
        && ($req->{headers}{'content-type'} // '')
            !~ m{^application/x-www-form-urlencoded}i) {
        return $self->error(400, undef, $S, 'invalid_request',
            'expected application/x-www-form-urlencoded');
    }
    return undef;
}


sub json_echo {
    my ($self, $req, $tok, %extra) = @_;
    return $self->json_answer(200, { ok => JSON::PP::true,
        method => $req->{method},
        path => $req->{path}, query => $req->{query}, token => $tok,
        headers => $req->{headers}, %extra });
}


# ------------------------------------------------------------------ writing

sub _respond {
    my ($self, $c, $r, $S) = @_;

    if (my $ms = $S->{delay_ms}) {
        sleep $ms / 1000;
    }

    my $action = $r->{action} // '';

    # never answer; leave when the client closes or after hang_max
    return TestServer::wait_close($c, $S->{hang_max} || 60)
        if $action eq 'hang';
    return TestServer::abort($c) if $action eq 'close';
    return TestServer::reset_close($c) if $action eq 'reset';

    TestServer::respond($c,
        status => $r->{status} // 200, ctype => $r->{ctype},
        headers => $r->{headers}, body => $r->{body},
        server => "mock-partner ($self->{kind})",
        chunked => $S->{chunked}
            ? { count => $S->{chunk_count} || 4,
                delay => ($S->{chunk_delay_ms} // 10) / 1000 }
            : undef,
        truncate => $S->{truncate}, no_length => $S->{no_length});
}

1;
