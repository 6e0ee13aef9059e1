package MockPartner;

=head1 NAME

MockPartner - controllable, counting stand-ins for the partner APIs whose
login endpoints nginx calls itself (Nilo, AMEE, Octorate, generic OAuth 2.0)

=head1 SYNOPSIS

    use lib "$FindBin::Bin/lib";
    use MockPartner;

    my $nilo = MockPartner->start(kind => 'nilo', client_id => 'cid',
                                  client_secret => 'sec', api_key => 'k',
                                  token_lifetime => 3600);
    my $url = $nilo->url;                    # http://127.0.0.1:PORT

    $nilo->set(status => 500, fail_count => 3);  # next 3 logins: 500
    ...                                          # then normal again
    is $nilo->logins, 4;
    is $nilo->last_login->{json}{clientId}, 'cid';
    is $nilo->last_api->{headers}{authorization}, 'Bearer ' . $nilo->last_token;

    my $certs = MockPartner::make_certs("$dir/certs");
    my $tls = MockPartner->start(kind => 'oauth', tls => 1,
                                 cert => $certs->{cert}, key => $certs->{key});
    $tls->stop;

=head1 DESCRIPTION

Each mock is one server process (its own process group) listening on
127.0.0.1 only, forking one child per connection, so it serves any number
of concurrent connections.  Every answer carries C<Connection: close>;
request bodies may come with Content-Length or chunked (C<Expect:
100-continue> is honoured).  All shared state (settings, behaviours,
counters, issued tokens, the request log) lives in files of the state
directory, read and written under flock, never in process memory, so the
test process and every connection child see the same thing.

A mock stops with C<< ->stop >>, when its object is destroyed, in an END
block of the process that started it, when that process disappears, and
in any case after C<max_runtime> seconds (default 3600).  A connection
child never lives longer than C<hang_max> (default 60) + 60 seconds.

=head2 Partner kinds and endpoints

Paths are matched by their end, so a prefix such as C</rest/v1> or
C</dev> in front of them works.  Every request is counted under an
I<endpoint name>: C<login> is the main login endpoint of every kind,
Octorate adds C<refresh>, C<token> (code exchange) and C<authorize>; any
other path is the protected API, C<api>.

=over

=item nilo

C<POST .../login>, JSON body C<{"clientId","clientSecret"}>, header
C<x-api-key> (wrong or missing key: 403 C<{"message":"Forbidden"}>, as
the AWS API gateway in front of Nilo does; body not a JSON object: 400,
whatever the Content-Type says (it is recorded, for tests to check); wrong
credentials: 401 C<{"code":401,"message":"Invalid client credentials"}>).
Success: 200 C<{"access_token","token_type":"Bearer","expires_in":N}>.
Tokens look like JWTs by default (C<token_style>).  API: needs
C<x-api-key> and C<Authorization: Bearer> with a valid token, answers 200
with a JSON echo C<{"ok":true,"method","path","query","token","headers"}>
or 401 C<{"code":401,"message":"Unauthorized","error":"invalid_token"}>.

Settings: C<client_id> (default C<nilo-client>), C<client_secret>
(C<nilo-secret>), C<api_key> (C<nilo-api-key>).

=item amee

C<POST .../auth>, form C<username>/C<password>; answers 200 with the XML of
the guide (JSON when C<Accept> asks for application/json), the header
C<authToken: TOKEN> and C<Set-Cookie: authToken=TOKEN; Path=/>.  Tokens are
base64 like the guide's (they contain C<+>, C</> and end in C<==>).  Wrong
credentials: 401.  API: accepts C<Cookie: authToken=TOKEN> (a session) or
C<Authorization: Basic> with the right user and password (recorded as
C<auth> = C<cookie> | C<basic> in the request record); a session dies
C<max_lifetime> seconds after login (default 7200) or after C<idle_timeout>
seconds without an API call (default 1800), then the API answers 401.

Settings: C<username> (C<amee-user>), C<password> (C<amee-pass>),
C<idle_timeout>, C<max_lifetime>, C<extra_cookies> (1: also set a
C<JSESSIONID> cookie before the authToken one).

=item octorate

C<POST .../identity/apilogin>, form C<client_id>/C<client_secret> ->
C<{"access_token","expireDate":"2026-11-23T17:41:51.178Z"}> (+
C<refresh_token> when the setting C<refresh_token> is 1).

C<POST .../identity/refresh> (endpoint C<refresh>), form C<refresh_token>
(client_id/client_secret checked when present, required when
C<refresh_requires_client> is 1) -> new C<access_token> + C<expireDate>,
and a new C<refresh_token> when C<rotate_refresh> is 1 (the old one then
answers 400 C<{"error":"invalid_grant"}>).  With C<revoke_refresh> set to
1 every refresh answers C<refresh_status> (default 400) C<invalid_grant>.
Refresh tokens never expire (as the guide says).

C<POST .../identity/token> (endpoint C<token>), form C<grant_type>
(C<code> or C<authorization_code>; C<refresh_token> works too), C<code>,
C<client_id>, C<client_secret>, C<redirect_uri> -> access_token,
refresh_token, expireDate.  Codes are single use, valid C<code_lifetime>
seconds (60), and bound to the redirect_uri they were issued for.  Get one
with C<< $m->issue_code($redirect_uri) >>, or through C<GET
.../identity/oauth.xhtml> or C<.../identity/authorize> with C<client_id>,
C<redirect_uri>, C<state>, which answers 302 to
C<redirect_uri?code=...&state=...> (endpoint C<authorize>).

API: C<Authorization: Bearer>.  Settings: C<client_id> (C<octo-client>),
C<client_secret> (C<octo-secret>).

=item oauth

RFC 6749 section 4.4: C<POST .../oauth/token> (or the setting
C<token_path>), form C<grant_type=client_credentials>; the client
authenticates with C<Authorization: Basic base64(id:secret)> (id and
secret form-urlencoded first, as section 2.3.1 says) or with
C<client_id>/C<client_secret> form fields, never both (400
C<invalid_request>).  The request record says which in C<client_auth>
(C<basic> | C<post> | C<none>).  Answers C<{"access_token","token_type":
"Bearer","expires_in":N}> (+ C<scope> when one was asked) with
C<Cache-Control: no-store>; errors are RFC 6749 JSON: 401
C<invalid_client> (with C<WWW-Authenticate> when Basic was used), 400
C<unsupported_grant_type>, C<invalid_scope>, C<invalid_request>.  API:
Bearer.

Settings: C<client_id> (C<oauth-client>), C<client_secret>
(C<oauth-secret>), C<client_auth> (C<any> | C<basic> | C<post>: the only
method accepted), C<require_scope>, C<require_audience>,
C<require_resource> (400 when the request does not carry exactly that).

=back

=head2 Constructor

    MockPartner->start(kind => KIND, port => PORT, tls => 0|1,
                       cert => CRT, key => KEY, tls_tickets => 0|1,
                       state_dir => DIR,
                       SETTING => VALUE ..., BEHAVIOUR => VALUE ...)

C<port> defaults to a free ephemeral port.  With C<tls> and no C<cert>,
certificates are made with C<make_certs> in the state directory (see
C<< ->certs >>).  C<state_dir> defaults to a temporary directory removed
at exit.  All connection children share one TLS context, so sessions
resume (C<tls_session_reused> in the request record, counter
C<tls_resumed>).  C<tls_tickets> (default 1) set to 0 stops TLS 1.3 session
tickets: a I<blocking> client (HTTP::Tiny, IO::Socket::SSL) that reads from a
mock which does not answer (C<hang>) otherwise blocks inside OpenSSL after
consuming the tickets, whatever its timeout; nginx and curl are not
affected.  Any setting and any behaviour below may be given too.  Unknown
arguments die (typos must not pass silently).

=head2 Settings (persistent until changed)

    token_lifetime   server-side validity of access tokens, seconds (3600);
                     fractions work
    expires_in       the lifetime announced in the answer (default:
                     token_lifetime); may differ from the real one
    expires_field    where to announce it: expires_in | expiresIn |
                     expireDate (ISO-8601 UTC with ms) | both
                     (expires_in + expiresIn) | none, or an array ref of
                     those; default expires_in, expireDate for octorate
    token_type       "Bearer"
    token_style      hex ("tok-N-HEX") | jwt | base64; default jwt for
                     nilo, base64 for amee, hex otherwise
    chunked          1: answer with Transfer-Encoding: chunked, body in
                     chunk_count (4) chunks chunk_delay_ms (10) apart
    hang_max         the longest a "hang" lasts, seconds (60)
    strict_content_type  1 (default): form endpoints answer 400 unless the
                     body is application/x-www-form-urlencoded
    + the per-kind settings above

Setting a setting to undef restores its default.

=head2 Behaviours (failure modes), set with C<< ->set >>

    status => 401|429|500|503|...  answer that status (error body in the
                                   partner's format) instead of working
    retry_after => N               with a Retry-After: N header
    hang => 1                      read the request, never answer; the child
                                   leaves when the client closes or after
                                   hang_max seconds
    close => 1                     read the request, close without answering
    reset => 1                     same with a TCP RST (SO_LINGER 0)
    garbage => 1                   200 with a body that is not JSON/XML (and,
                                   for amee, no authToken header/cookie)
    huge => N                      200, a valid answer padded to N bytes
    no_token => 1                  200 without the token field (amee: without
                                   the authToken header and cookie)
    crlf_token => 1 | STRING       the token ends in "\r\nX-Evil: 1" (or STRING)
    long_token => N                the token is N bytes long
    delay_ms => N                  wait N ms before answering
    truncate => 1                  announce Content-Length, send half, close
    no_length => 1                 no Content-Length, no chunks: close ends it
    body => STRING                 replace the body (content_type => TYPE)
    headers => [[name, value],...] extra response headers

Meta keys of C<set>:

    fail_count => N   the behaviour applies to the next N requests only,
                      then the endpoint is normal again (counted atomically
                      across concurrent requests)
    sequence => [ ... ]  one answer per element, then normal; an element is
                      a status (500), a flag name ('hang', 'close',
                      'garbage', ...), or a hash of behaviours and setting
                      overrides ({status => 429, retry_after => 2},
                      {expires_in => 0}, {status => 500, fail_count => 2})
    for => ENDPOINT   apply to that endpoint only ('login', 'refresh',
                      'token', 'api', ...).  Without it, behaviours apply to
                      every login endpoint (login, refresh, token) but never
                      to the API, and settings apply everywhere
    normal => 1       clear the behaviour (of ENDPOINT, or the default one)

A C<set> call that holds any behaviour key, C<sequence> or C<normal>
replaces the previous behaviour of that scope; setting keys in the same call
are merged into the settings.  An endpoint-specific behaviour wins over the
default one while it lasts.

=head2 Methods

    $m->port, $m->url([$host]), $m->pid, $m->state_dir, $m->kind,
    $m->certs (when made by start)
    $m->set(%settings_and_behaviour);   $m->reset (all behaviours normal)
    $m->setting($name)
    $m->logins([$endpoint])      login requests received (login + refresh +
                                 token without argument), any outcome
    $m->api_calls                requests to the protected API
    $m->count($key)              any counter: 'login', 'api', 'login:200',
                                 'api:401', 'login:hang', 'login:close',
                                 'tls_error', 'tls_resumed', 'bad_request',
                                 'empty_connection', 'authorize', ...
    $m->counters                 hash ref of every counter
    $m->max_concurrent([$ep])    most requests of an endpoint (login
                                 endpoints without argument) in progress at
                                 once
    $m->in_flight([$ep])         requests of an endpoint (login endpoints
                                 without argument) in progress now, e.g. a
                                 refresh held by delay_ms
    $m->last_login([$ep]), $m->last_api, $m->requests([$ep])
        request records: { seq, endpoint, time, method, uri, path, query,
        version, headers => {lowercased name => value, repeated ones
        joined with ", "}, header_lines => [[name, value], ...] (order and
        repeats kept), body (raw), body_length, chunked_request, tls, sni,
        params (form or JSON fields), json, query_params, basic_user,
        basic_pass, bearer, cookies, client_auth, auth, status (or 'hang',
        'close', 'reset'), token (issued), refresh_token }
    $m->last_token               last access token / session issued
    $m->tokens_issued            how many
    $m->last_tls_error           why the last TLS handshake failed
    $m->token_valid($token)      would the API accept it now?
    $m->expire_tokens(refresh => 0|1)  every access token / session issued
                                 so far is invalid (API: 401); with
                                 refresh => 1, refresh tokens too
    $m->revoke_refresh_tokens    only the refresh tokens
    $m->issue_code([$redirect_uri])  octorate: a fresh authorization code
    $m->reset_counters           counters, request log and last records
    $m->wait_for(sub { ... }, $seconds)  poll until true (bool)
    $m->wait_logins($n, $seconds)        until logins >= $n (bool)
    $m->errors                   Perl errors of connection children ('' if none)
    $m->stop

    MockPartner::make_certs($dir) -> { ca, ca_key, cert, key, other_ca,
        self_signed_cert, self_signed_key, wrong_name_cert, wrong_name_key,
        expired_cert, expired_key }

C<cert>/C<key>: "localhost" + IP 127.0.0.1 signed by C<ca>; C<other_ca>: a
CA that signed nothing here; C<self_signed_*>: "localhost" + 127.0.0.1,
vouched for by no CA; C<wrong_name_*>: signed by C<ca> for
"wrong.example" only; C<expired_*>: signed by C<ca>, valid only in 2020.
Existing files are reused.

=head1 NOTES AND LIMITATIONS

The mocks listen on 127.0.0.1 only: to test certificate names, point nginx at
C<https://127.0.0.1:PORT> with C<proxy_ssl_name localhost> (or the wrong
name), rather than at "localhost", which may resolve to ::1 first.

C<crlf_token> with amee puts the CR LF into the C<authToken> response
header itself, so the answer carries a separate C<X-Evil: 1> header line:
what a hostile partner would send.

A client that refuses the certificate does not always fail the handshake:
nginx (like most OpenSSL clients with TLS 1.3) completes it and checks the
certificate afterwards, then closes without a request; the mock counts that
as C<empty_connection>, not C<tls_error>.  So "untrusted certificate
refused" is best asserted as C<< logins == 0 >> plus C<< count('tls_error')
+ count('empty_connection') >= 1 >>.  A TLS client that connects and leaves
without a handshake (a port probe) counts as C<tls_error>; a plain one as
C<empty_connection>.

No keep-alive (every answer closes).  The state is a small JSON file
rewritten under the lock a couple of times per request, plus one file per
token, with JSON::PP: about 15 ms per plain request and 40 ms per TLS one on
a small machine; fine for tests, not for benchmarks.

=cut

use strict;
use warnings;

use Carp qw(croak);
use Fcntl qw(:flock);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use MIME::Base64 qw(encode_base64 decode_base64);
use Digest::SHA qw(hmac_sha256);
use POSIX qw(:sys_wait_h);
use Socket qw(SOL_SOCKET SO_LINGER);
use Time::HiRes qw(time sleep);

our $VERSION = '1.0';

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;
my $JSON_FAST = JSON::PP->new->utf8->allow_nonref;

my %RUNNING;    # server pid => pid of the process that started it

END {
    my $rc = $?;
    for my $pid (keys %RUNNING) {
        next unless $RUNNING{$pid} == $$;
        _kill_group($pid);
    }
    $? = $rc;
}


my %KINDS = map { $_ => 1 } qw(nilo amee octorate oauth);

my %COMMON = (
    token_lifetime      => 3600,
    expires_in          => undef,
    token_type          => 'Bearer',
    chunked             => 0,
    chunk_count         => 4,
    chunk_delay_ms      => 10,
    hang_max            => 60,
    strict_content_type => 1,
    max_runtime         => 3600,
);

my %DEFAULTS = (
    nilo => {
        client_id => 'nilo-client', client_secret => 'nilo-secret',
        api_key => 'nilo-api-key', expires_field => 'expires_in',
        token_style => 'jwt',
    },
    amee => {
        username => 'amee-user', password => 'amee-pass',
        idle_timeout => 1800, max_lifetime => 7200, extra_cookies => 0,
        expires_field => 'none', token_style => 'base64',
    },
    octorate => {
        client_id => 'octo-client', client_secret => 'octo-secret',
        expires_field => 'expireDate', token_style => 'hex',
        refresh_token => 0, rotate_refresh => 0, revoke_refresh => 0,
        refresh_status => 400, refresh_requires_client => 0,
        code_lifetime => 60,
    },
    oauth => {
        client_id => 'oauth-client', client_secret => 'oauth-secret',
        expires_field => 'expires_in', token_style => 'hex',
        client_auth => 'any', require_scope => undef,
        require_audience => undef, require_resource => undef,
        token_path => '/oauth/token',
    },
);

my %MODE_KEYS = map { $_ => 1 } qw(status retry_after hang close reset
    garbage huge no_token crlf_token long_token delay_ms truncate no_length
    body content_type headers);

my %META_KEYS = map { $_ => 1 } qw(fail_count sequence for normal);

my %LOGIN_EP = map { $_ => 1 } qw(login refresh token);

my %REASON = (
    100 => 'Continue', 200 => 'OK', 201 => 'Created', 204 => 'No Content',
    301 => 'Moved Permanently', 302 => 'Found', 400 => 'Bad Request',
    401 => 'Unauthorized', 403 => 'Forbidden', 404 => 'Not Found',
    405 => 'Method Not Allowed', 408 => 'Request Timeout',
    413 => 'Payload Too Large', 415 => 'Unsupported Media Type',
    429 => 'Too Many Requests', 500 => 'Internal Server Error',
    502 => 'Bad Gateway', 503 => 'Service Unavailable',
    504 => 'Gateway Timeout',
);


sub _is_setting {
    my ($kind, $k) = @_;
    return exists $COMMON{$k} || exists $DEFAULTS{$kind}{$k};
}

sub _default {
    my ($kind, $k) = @_;
    return exists $DEFAULTS{$kind}{$k} ? $DEFAULTS{$kind}{$k} : $COMMON{$k};
}


# ---------------------------------------------------------------- start/stop

sub start {
    my ($class, %a) = @_;

    my $kind = delete $a{kind} or croak "MockPartner->start: kind is required";
    croak "MockPartner: unknown kind '$kind'" unless $KINDS{$kind};

    my $port = delete $a{port} // 0;
    my $tls = delete $a{tls} ? 1 : 0;
    my $tickets = delete $a{tls_tickets} // 1;
    my $cert = delete $a{cert};
    my $key = delete $a{key};
    my $dir = delete $a{state_dir};

    my (%settings, %behaviour);
    for my $k (keys %a) {
        if (_is_setting($kind, $k)) {
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

    my $self = bless {
        kind => $kind, tls => $tls, dir => $dir, owner => $$,
        tls_tickets => $tickets,
    }, $class;

    if ($tls) {
        if (!defined $cert) {
            my $c = make_certs("$dir/certs");
            $self->{certs} = $c;
            ($cert, $key) = ($c->{cert}, $c->{key});
        }
        croak "MockPartner: tls needs both cert and key" unless defined $key;
        require IO::Socket::SSL;
        # fail here, in the test process, not silently in the server
        IO::Socket::SSL::SSL_Context->new(SSL_server => 1,
            SSL_cert_file => $cert, SSL_key_file => $key)
            or croak "MockPartner: bad cert/key: "
                . IO::Socket::SSL::errstr();
        $self->{cert} = $cert;
        $self->{key} = $key;
    }

    my %s = (%COMMON, %{ $DEFAULTS{$kind} });
    $s{$_} = $settings{$_} // _default($kind, $_) for keys %settings;

    unlink map { "$dir/$_" } 'requests.jsonl', 'errors.log';
    unlink glob("$dir/last-*.json"), glob("$dir/tokens/*");
    make_path("$dir/tokens");
    _write_json("$dir/state.json", {
        kind => $kind, settings => \%s, settings_ep => {}, modes => {},
        counters => {}, token_seq => 0, issued => 0,
        req_seq => 0, in_flight => {}, max_in_flight => {},
        last_token => undef,
    });

    my $listen = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1', LocalPort => $port, Proto => 'tcp',
        Listen => 128, ReuseAddr => 1)
        or croak "MockPartner: cannot listen on 127.0.0.1:$port: $!";
    $self->{port} = $listen->sockport;

    $self->set(%behaviour) if %behaviour;

    my $parent = $$;
    my $pid = fork;
    croak "MockPartner: fork: $!" unless defined $pid;

    if ($pid == 0) {
        POSIX::setpgid(0, 0);
        # never hold the test's stdout/stderr pipes open
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>>', "$dir/server.log";
        eval { $self->_serve($listen, $parent, $s{max_runtime}) };
        POSIX::_exit(0);
    }

    POSIX::setpgid($pid, $pid);    # no race with stop() right after
    close $listen;

    $self->{pid} = $pid;
    $RUNNING{$pid} = $$;

    return $self;
}


sub stop {
    my ($self) = @_;
    return unless $self->{pid} && $self->{owner} == $$;
    my $pid = delete $self->{pid};
    delete $RUNNING{$pid};
    _kill_group($pid);
    return 1;
}


sub _kill_group {
    my ($pid) = @_;

    # the server ends its connection children, reaps them and leaves
    kill 'TERM', $pid;

    my $end = time + 5;
    while (time < $end) {
        my $r = waitpid($pid, WNOHANG);
        last if $r == $pid || $r == -1;
        sleep 0.005;
    }

    if (kill 0, $pid) {
        kill 'KILL', -$pid;
        kill 'KILL', $pid;
        waitpid($pid, 0);
    }

    # anything of the group still there (should not happen)
    kill 'KILL', -$pid if kill 0, -$pid;
}


sub DESTROY {
    my ($self) = @_;
    local ($@, $!, $?);
    $self->stop if $self->{pid};
}


# ------------------------------------------------------------------ accessors

sub port      { $_[0]{port} }
sub pid       { $_[0]{pid} }
sub kind      { $_[0]{kind} }
sub state_dir { $_[0]{dir} }
sub certs     { $_[0]{certs} }

sub url {
    my ($self, $host) = @_;
    return ($self->{tls} ? 'https' : 'http') . '://' . ($host // '127.0.0.1')
        . ":$self->{port}";
}


# ------------------------------------------------------------------ state

sub _write_json {
    my ($path, $data) = @_;
    open my $fh, '>', "$path.tmp.$$" or die "$path.tmp.$$: $!";
    print $fh $JSON_FAST->encode($data);
    close $fh or die "$path.tmp.$$: $!";
    rename "$path.tmp.$$", $path or die "rename $path: $!";
}

sub _read_json {
    my ($path) = @_;
    open my $fh, '<', $path or return undef;
    local $/;
    my $text = <$fh>;
    return undef unless defined $text && length $text;
    return $JSON_FAST->decode($text);
}

sub _lock {
    my ($self, $mode) = @_;
    open my $lk, '>>', "$self->{dir}/lock" or die "$self->{dir}/lock: $!";
    flock($lk, $mode) or die "flock: $!";
    return $lk;
}

# read-modify-write of the state under an exclusive lock
sub _txn {
    my ($self, $code) = @_;
    my $lk = $self->_lock(LOCK_EX);
    my $st = _read_json("$self->{dir}/state.json")
        or die "MockPartner: state lost in $self->{dir}";
    $st->{tokens} = MockPartner::TokenStore->new($self->{dir});
    my @r = $code->($st);
    (delete $st->{tokens})->flush;
    _write_json("$self->{dir}/state.json", $st);
    close $lk;
    return wantarray ? @r : $r[0];
}

sub _state {
    my ($self) = @_;
    my $lk = $self->_lock(LOCK_SH);
    my $st = _read_json("$self->{dir}/state.json");
    close $lk;
    $st->{tokens} = MockPartner::TokenStore->new($self->{dir}) if $st;
    return $st;
}


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
        } elsif (_is_setting($kind, $k)) {
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
                $st->{settings}{$k} = $settings{$k} // _default($kind, $k);
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
        my $r = _read_json("$self->{dir}/last-$ep.json") or next;
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


sub issue_code {
    my ($self, $redirect_uri) = @_;
    return $self->_txn(sub {
        my ($st) = @_;
        return _new_code($st, $redirect_uri);
    });
}


sub token_valid {
    my ($self, $tok) = @_;
    my $st = $self->_state;
    return _check_token($st, $st->{settings}, $tok, 0) ? 1 : 0;
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

sub _rand_hex { unpack 'H*', _rand_bytes($_[0]) }

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
                . _rand_hex(6), iss => 'mock-partner' }));
        $tok = "$h.$p." . _b64url(hmac_sha256("$h.$p", 'mock-partner-key'));
    } elsif ($style eq 'base64') {
        $tok = encode_base64(pack('N', $n) . _rand_bytes(60), '');
    } else {
        $tok = "tok-$n-" . _rand_hex(8);
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


sub _issue_access {
    my ($st, $S, $type) = @_;
    my $tok = _token_string($st, $S);
    my $now = time;
    $st->{tokens}->put($tok, { type => $type // 'access', iat => $now,
        last_used => $now, exp => $now + $S->{token_lifetime} });
    $st->{last_token} = $tok;
    $st->{issued}++;
    return ($tok, $now);
}


sub _issue_refresh {
    my ($st) = @_;
    my $tok = 'rt-' . (++$st->{token_seq}) . '-' . _rand_hex(12);
    $st->{tokens}->put($tok, { type => 'refresh', iat => time });
    return $tok;
}


sub _new_code {
    my ($st, $redirect_uri) = @_;
    my $code = 'code-' . (++$st->{token_seq}) . '-' . _rand_hex(8);
    my $life = $st->{settings}{code_lifetime} // 60;
    $st->{tokens}->put($code, { type => 'code', iat => time,
        exp => time + $life, redirect_uri => $redirect_uri });
    return $code;
}


# access token or session still good? (touch: an API call keeps it alive)
sub _check_token {
    my ($st, $S, $tok, $touch) = @_;
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


# ------------------------------------------------------------------ server

sub _serve {
    my ($self, $listen, $ppid, $max_runtime) = @_;

    $0 = "mock-partner $self->{kind} 127.0.0.1:$self->{port}";
    $SIG{$_} = 'DEFAULT' for qw(TERM INT HUP ALRM CHLD);
    $SIG{PIPE} = 'IGNORE';

    if ($self->{tls}) {
        # one context for every connection child: the session ticket keys
        # are the same in all of them, so a client can resume
        my $tickets = $self->{tls_tickets};
        $self->{ssl_ctx} = IO::Socket::SSL::SSL_Context->new(
            SSL_server => 1, SSL_cert_file => $self->{cert},
            SSL_key_file => $self->{key},
            SSL_create_ctx_callback => sub {
                Net::SSLeay::CTX_set_num_tickets($_[0], 0)
                    if !$tickets && defined &Net::SSLeay::CTX_set_num_tickets;
            })
            or die "SSL context: " . IO::Socket::SSL::errstr() . "\n";
    }

    my $end = time + ($max_runtime || 3600);
    my $sel = IO::Select->new($listen);
    my $stop = 0;
    $SIG{TERM} = sub { $stop = 1 };

    while (!$stop) {
        1 while waitpid(-1, WNOHANG) > 0;
        last if getppid() != $ppid || time > $end;
        next unless $sel->can_read(0.5);

        my $c = $listen->accept or next;
        my $pid = fork;
        if (!defined $pid) {
            close $c;
            next;
        }
        if ($pid == 0) {
            $SIG{TERM} = 'DEFAULT';
            close $listen;
            eval { $self->_connection($c) };
            if (my $err = $@) {
                if (open my $fh, '>>', "$self->{dir}/errors.log") {
                    print $fh scalar(localtime), " [$$] $err";
                    close $fh;
                }
            }
            POSIX::_exit(0);
        }
        close $c;
    }

    # end the connection children and reap them, so that nothing of the
    # group is left (not even a zombie) when stop() returns
    close $listen;
    $SIG{TERM} = 'IGNORE';
    kill 'TERM', -$$;
    my $kill_at = time + 2;
    while (1) {
        my $r = waitpid(-1, WNOHANG);
        last if $r == -1;
        next if $r > 0;
        if (time > $kill_at) {
            kill 'KILL', -$$;
            $kill_at = time + 3600;
        }
        sleep 0.005;
    }

    POSIX::_exit(0);
}


sub _reason { $REASON{ $_[0] } // 'Status' }


sub _connection {
    my ($self, $c) = @_;

    # hard backstop: SIGALRM's default action ends the child, whatever it
    # is blocked in (also inside OpenSSL)
    # (set again once the behaviour is known)
    alarm(120);

    my $peer_port = $c->peerport;
    my %conn = (tls => $self->{tls} ? 1 : 0, peer_port => $peer_port);

    if ($self->{tls}) {
        require IO::Socket::SSL;
        my $ok = IO::Socket::SSL->start_SSL($c, SSL_server => 1,
            SSL_reuse_ctx => $self->{ssl_ctx}, Timeout => 10);
        if (!$ok) {
            my $err = IO::Socket::SSL::errstr() // 'handshake failed';
            $self->_txn(sub {
                $_[0]{counters}{tls_error}++;
                $_[0]{last_tls_error} = "$err";
            });
            return;
        }
        my $sni = eval { $c->get_servername };
        $conn{sni} = $sni if defined $sni && length $sni;
        $conn{tls_version} = eval { $c->get_sslversion };
        $conn{tls_session_reused} = eval { $c->get_session_reused } ? 1 : 0;
        $self->_txn(sub { $_[0]{counters}{tls_resumed}++ })
            if $conn{tls_session_reused};
    }

    my $req = eval { _read_request($c) };
    if (my $err = $@) {
        $err =~ s/\s+$//;
        $self->_txn(sub { $_[0]{counters}{bad_request}++ });
        my $code = $err =~ /too large/ ? 413 : $err =~ /timeout/ ? 408 : 400;
        _send($c, { status => $code, ctype => 'text/plain',
                    body => "$err\n" }, {});
        return;
    }
    if (!$req) {
        # connected (and shook hands) but left without a request: what a
        # client does when it refuses the certificate after the handshake
        $self->_txn(sub { $_[0]{counters}{empty_connection}++ });
        return;
    }
    @$req{ keys %conn } = values %conn;

    my $ep = $self->_route($req);
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


# --- reading a request: head, then Content-Length or chunked body

sub _readable {
    my ($c, $timeout) = @_;
    return 1 if $c->can('pending') && $c->pending;
    return IO::Select->new($c)->can_read($timeout) ? 1 : 0;
}

sub _read_request {
    my ($c) = @_;

    my $buf = '';
    my $deadline = time + 30;

    my $more = sub {
        my $left = $deadline - time;
        die "timeout reading the request\n"
            if $left <= 0 || !_readable($c, $left);
        my $n = $c->sysread($buf, 65536, length $buf);
        return $n;
    };

    while ($buf !~ /\r?\n\r?\n/) {
        my $n = $more->();
        if (!$n) {
            return undef if $buf eq '';
            die "connection closed inside the request head\n";
        }
        die "request head too large\n" if length $buf > 1 << 20;
    }

    $buf =~ s/^((?:.*?)\r?\n\r?\n)//s;
    my $head = $1;
    $head =~ s/\r?\n\r?\n$//;
    my ($line, @lines) = split /\r?\n/, $head;

    my ($method, $uri, $version) = $line =~ m{^([A-Z]+) (\S+)(?: HTTP/(\d\.\d))?$}
        or die "bad request line\n";

    my (%h, @hl);
    for (@lines) {
        my ($k, $v) = /^([!#\$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/
            or die "bad header line\n";
        $k = lc $k;
        push @hl, [$k, $v];
        $h{$k} = exists $h{$k} ? "$h{$k}, $v" : $v;
    }

    my ($path, $query) = split /\?/, $uri, 2;

    my $body = '';
    my $chunked = 0;
    my $max = 32 << 20;

    if (($h{expect} // '') =~ /100-continue/i) {
        $c->syswrite("HTTP/1.1 100 Continue\r\n\r\n");
    }

    if (($h{'transfer-encoding'} // '') =~ /chunked/i) {
        $chunked = 1;
        while (1) {
            while ($buf !~ /\r?\n/) {
                $more->() or die "connection closed inside a chunk size\n";
            }
            $buf =~ s/^([^\r\n]*)\r?\n//;
            my ($hex) = $1 =~ /^\s*([0-9a-fA-F]+)/
                or die "bad chunk size\n";
            my $size = hex $hex;
            die "request body too large\n" if length($body) + $size > $max;
            if ($size == 0) {
                # trailers up to the empty line
                while (1) {
                    while ($buf !~ /\r?\n/) {
                        $more->() or die "connection closed in trailers\n";
                    }
                    $buf =~ s/^([^\r\n]*)\r?\n//;
                    last if $1 eq '';
                }
                last;
            }
            while (length $buf < $size + 2) {
                $more->() or die "connection closed inside a chunk\n";
            }
            $body .= substr($buf, 0, $size, '');
            $buf =~ s/^\r?\n// or die "bad chunk end\n";
        }
    } elsif (defined $h{'content-length'}) {
        $h{'content-length'} =~ /^\d+$/ or die "bad content-length\n";
        my $len = $h{'content-length'};
        die "request body too large\n" if $len > $max;
        while (length $buf < $len) {
            $more->() or die "connection closed inside the body\n";
        }
        $body = substr($buf, 0, $len);
    }

    return {
        method => $method, uri => $uri, path => $path,
        query => $query // '', version => $version // '0.9',
        headers => \%h, header_lines => \@hl, body => $body,
        body_length => length $body, chunked_request => $chunked,
    };
}


sub _form {
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

sub _uri_escape {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9._~-])/sprintf '%%%02X', ord $1/ge;
    return $s;
}


sub _route {
    my ($self, $req) = @_;
    my $p = $req->{path};
    my $k = $self->{kind};

    if ($k eq 'nilo') {
        return 'login' if $p =~ m{/login/?$};
    } elsif ($k eq 'amee') {
        return 'login' if $p =~ m{/auth/?$};
    } elsif ($k eq 'octorate') {
        return 'login' if $p =~ m{/identity/apilogin/?$};
        return 'refresh' if $p =~ m{/identity/refresh/?$};
        return 'token' if $p =~ m{/identity/token/?$};
        return 'authorize'
            if $p =~ m{/identity/(?:oauth\.xhtml|authorize)/?$};
    } elsif ($k eq 'oauth') {
        my $tp = $self->_state->{settings}{token_path} // '/oauth/token';
        return 'login' if $p =~ m{\Q$tp\E/?$};
    }
    return 'api';
}


# the behaviour for this request, consumed atomically
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
    $req->{query_params} = _form($req->{query});
    # json: the body decoded when it is JSON (whatever the Content-Type
    # says, as a lambda behind an API gateway would); params: the form
    # fields when the body is form-urlencoded, otherwise the JSON object
    my $ctype = lc($h->{'content-type'} // '');
    if ($ctype =~ m{json} || $req->{body} =~ /^\s*[\{\[]/) {
        my $j = eval { $JSON->decode($req->{body}) };
        $req->{json} = $j if defined $j;
    }
    if ($ctype =~ m{application/x-www-form-urlencoded}) {
        $req->{params} = _form($req->{body});
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
        $r = $self->_error($S->{status}, $ep, $S);
    } else {
        my $m = "_h_$self->{kind}";
        $r = $self->$m($st, $ep, $req, $S);
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


# --- error answers in each partner's own format

my %OAUTH_ERROR = (400 => 'invalid_request', 401 => 'invalid_client',
    403 => 'access_denied', 429 => 'slow_down', 500 => 'server_error',
    503 => 'temporarily_unavailable');

sub _error {
    my ($self, $status, $ep, $S, $error, $desc) = @_;
    my $k = $self->{kind};
    my $msg = $desc // _reason($status);

    if ($k eq 'nilo') {
        $msg = 'Too many requests' if $status == 429 && !$desc;
        return _json_r($status, { code => $status, message => $msg });
    }
    if ($k eq 'amee') {
        my $xml = qq{<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n}
            . qq{<Resources><Status>$status</Status>}
            . qq{<Message>$msg</Message></Resources>\n};
        return { status => $status, ctype => 'application/xml; charset=UTF-8',
                 body => $xml };
    }
    my %b = (error => $error // $OAUTH_ERROR{$status} // 'server_error');
    $b{error_description} = $desc if defined $desc;
    return _json_r($status, \%b);
}

sub _json_r {
    my ($status, $data, @headers) = @_;
    return { status => $status, ctype => 'application/json',
             body => $JSON->encode($data), headers => [@headers] };
}


# expires_in / expiresIn / expireDate fields of a token answer
sub _expiry_fields {
    my ($S, $now) = @_;
    my $in = $S->{expires_in} // $S->{token_lifetime};
    my $f = $S->{expires_field} // 'expires_in';
    my @f = ref $f eq 'ARRAY' ? @$f : $f eq 'both' ? qw(expires_in expiresIn)
          : ($f);
    my %o;
    for (@f) {
        next if $_ eq 'none';
        if ($_ eq 'expireDate') {
            $o{expireDate} = _iso_ms($now + $in);
        } else {
            $o{$_} = $in =~ /^-?\d+(?:\.\d+)?$/ ? 0 + $in : $in;
        }
    }
    return %o;
}


# a success answer with a token, shaped by garbage / no_token / huge
sub _token_answer {
    my ($self, $S, $fields, $tok, @headers) = @_;
    my %b = %$fields;
    delete $b{access_token} if $S->{no_token};
    my $r = _json_r(200, \%b, @headers);
    $r->{token} = $tok;
    $self->_shape($r, $S);
    return $r;
}

sub _shape {
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


sub _need_post {
    my ($self, $req, $S, $form) = @_;
    return { status => 405, ctype => 'application/json',
             headers => [['Allow', 'POST']],
             body => '{"message":"Method Not Allowed"}' }
        unless $req->{method} eq 'POST';
    if ($form && $S->{strict_content_type}
        && ($req->{headers}{'content-type'} // '')
            !~ m{^application/x-www-form-urlencoded}i) {
        return $self->_error(400, undef, $S, 'invalid_request',
            'expected application/x-www-form-urlencoded');
    }
    return undef;
}


sub _json_echo {
    my ($self, $req, $tok, %extra) = @_;
    return _json_r(200, { ok => JSON::PP::true, method => $req->{method},
        path => $req->{path}, query => $req->{query}, token => $tok,
        headers => $req->{headers}, %extra });
}


# --- nilo

sub _h_nilo {
    my ($self, $st, $ep, $req, $S) = @_;
    my $h = $req->{headers};

    if ($ep eq 'login') {
        my $bad = $self->_need_post($req, $S, 0);
        return $bad if $bad;
        return _json_r(403, { message => 'Forbidden' })
            unless ($h->{'x-api-key'} // '') eq $S->{api_key};
        my $j = $req->{json};
        return _json_r(400, { code => 400, message => 'Invalid request body' })
            unless ref $j eq 'HASH';
        return _json_r(401, { code => 401,
                              message => 'Invalid client credentials' })
            unless ($j->{clientId} // '') eq $S->{client_id}
                && ($j->{clientSecret} // '') eq $S->{client_secret};
        my ($tok, $now) = _issue_access($st, $S);
        return $self->_token_answer($S, { access_token => $tok,
            token_type => $S->{token_type}, _expiry_fields($S, $now) }, $tok);
    }

    return _json_r(403, { message => 'Forbidden' })
        unless ($h->{'x-api-key'} // '') eq $S->{api_key};
    return _json_r(401, { code => 401, message => 'Unauthorized',
                          error => 'invalid_token' })
        unless _check_token($st, $S, $req->{bearer}, 1);
    my $r = $self->_json_echo($req, $req->{bearer});
    $self->_shape($r, $S);
    return $r;
}


# --- amee

sub _amee_xml {
    my ($self, $req) = @_;
    my $next = ($self->{tls} ? 'https' : 'http') . '://'
        . ($req->{headers}{host} // "127.0.0.1:$self->{port}") . '/auth';
    return <<"XML";
<?xml version="1.0" encoding="UTF-8" standalone="no"?>
  <Resources>
    <SignInResource>
      <Next>$next</Next>
      <User uid="1A6307E2B531">
      <Status>ACTIVE</Status>
      <Type>STANDARD</Type>
      <GroupNames>
        <GroupName>amee</GroupName>
        <GroupName>Standard</GroupName>
        <GroupName>All</GroupName>
      </GroupNames>
      <ApiVersion>1.0</ApiVersion>
    </User>
  </SignInResource>
</Resources>
XML
}

sub _h_amee {
    my ($self, $st, $ep, $req, $S) = @_;
    my $h = $req->{headers};
    my $json = ($h->{accept} // '') =~ m{application/json}i;

    if ($ep eq 'login') {
        my $bad = $self->_need_post($req, $S, 1);
        return $bad if $bad;
        my $p = $req->{params};
        return $self->_error(401, $ep, $S, undef, 'Unauthorized')
            unless !ref $p->{username} && !ref $p->{password}
                && ($p->{username} // '') eq $S->{username}
                && ($p->{password} // '') eq $S->{password};

        my ($tok) = _issue_access($st, $S, 'session');
        my @hd;
        unless ($S->{garbage} || $S->{no_token}) {
            push @hd, ['Set-Cookie', 'JSESSIONID=' . uc(_rand_hex(16))
                       . '; Path=/; HttpOnly'] if $S->{extra_cookies};
            push @hd, ['Set-Cookie', "authToken=$tok; Path=/"],
                      ['authToken', $tok];
        }
        my $r;
        if ($json) {
            $r = _json_r(200, { next => '/auth', user => { uid =>
                '1A6307E2B531', status => 'ACTIVE', type => 'STANDARD',
                apiVersion => '1.0',
                groupNames => [qw(amee Standard All)] } }, @hd);
        } else {
            $r = { status => 200, ctype => 'application/xml; charset=UTF-8',
                   body => $self->_amee_xml($req), headers => \@hd };
        }
        $r->{token} = $tok;
        $self->_shape($r, $S);
        return $r;
    }

    my ($auth, $tok);
    if (defined $req->{basic_user}) {
        if ($req->{basic_user} eq $S->{username}
            && ($req->{basic_pass} // '') eq $S->{password}) {
            $auth = 'basic';
        }
    } elsif (defined(my $c = $req->{cookies}{authToken})) {
        if (_check_token($st, $S, $c, 1)) {
            $auth = 'cookie';
            $tok = $c;
        }
    }
    $req->{auth} = $auth // 'none';
    return $self->_error(401, $ep, $S, undef, 'Unauthorized') unless $auth;

    my $r;
    if ($json) {
        $r = $self->_json_echo($req, $tok, auth => $auth);
    } else {
        my $p = $req->{path};
        $p =~ s/[<&>"]/_/g;
        $r = { status => 200, ctype => 'application/xml; charset=UTF-8',
               body => qq{<?xml version="1.0" encoding="UTF-8"?>\n}
                   . qq{<Resources><DataCategoryResource><Path>$p</Path>}
                   . qq{<Auth>$auth</Auth></DataCategoryResource>}
                   . qq{</Resources>\n} };
    }
    $self->_shape($r, $S);
    return $r;
}


# --- octorate

sub _client_ok {
    my ($p, $S) = @_;
    return !ref $p->{client_id} && !ref $p->{client_secret}
        && ($p->{client_id} // '') eq $S->{client_id}
        && ($p->{client_secret} // '') eq $S->{client_secret};
}

sub _octo_refresh {
    my ($self, $st, $ep, $req, $S) = @_;
    my $p = $req->{params};

    if (defined $p->{client_id} || defined $p->{client_secret}
        || $S->{refresh_requires_client}) {
        return $self->_error(401, $ep, $S, 'invalid_client')
            unless _client_ok($p, $S);
    }
    my $rt = $p->{refresh_token};
    return $self->_error(400, $ep, $S, 'invalid_request',
                         'refresh_token missing')
        unless defined $rt && !ref $rt && length $rt;
    return $self->_error($S->{refresh_status} || 400, $ep, $S,
                         'invalid_grant', 'refresh token revoked')
        if $S->{revoke_refresh};
    my $t = !ref $rt ? $st->{tokens}->get($rt) : undef;
    return $self->_error(400, $ep, $S, 'invalid_grant')
        unless $t && $t->{type} eq 'refresh' && !$t->{revoked};

    my ($tok, $now) = _issue_access($st, $S);
    my %b = (access_token => $tok, _expiry_fields($S, $now));
    if ($S->{rotate_refresh}) {
        $t->{revoked} = 'rotated';
        $b{refresh_token} = _issue_refresh($st);
    }
    my $r = $self->_token_answer($S, \%b, $tok);
    $r->{refresh_token} = $b{refresh_token};
    return $r;
}

sub _h_octorate {
    my ($self, $st, $ep, $req, $S) = @_;
    my $p = $req->{params};

    if ($ep eq 'authorize') {
        my $q = $req->{query_params};
        my $ru = $q->{redirect_uri};
        return { status => 400, ctype => 'text/html',
                 body => "<html><body>bad client_id or redirect_uri"
                     . "</body></html>\n" }
            unless ($q->{client_id} // '') eq $S->{client_id}
                && defined $ru && !ref $ru && length $ru;
        my $code = _new_code($st, $ru);
        my $loc = $ru . ($ru =~ /\?/ ? '&' : '?') . 'code='
            . _uri_escape($code);
        $loc .= '&state=' . _uri_escape($q->{state}) if defined $q->{state};
        return { status => 302, ctype => 'text/html',
                 headers => [['Location', $loc]],
                 body => "<html><body>Octorate identity: "
                     . "granted</body></html>\n" };
    }

    if ($LOGIN_EP{$ep}) {
        my $bad = $self->_need_post($req, $S, 1);
        return $bad if $bad;
    }

    if ($ep eq 'login') {
        return $self->_error(401, $ep, $S, 'invalid_client')
            unless _client_ok($p, $S);
        my ($tok, $now) = _issue_access($st, $S);
        my %b = (access_token => $tok, _expiry_fields($S, $now));
        $b{refresh_token} = _issue_refresh($st) if $S->{refresh_token};
        my $r = $self->_token_answer($S, \%b, $tok);
        $r->{refresh_token} = $b{refresh_token};
        return $r;
    }

    return $self->_octo_refresh($st, $ep, $req, $S) if $ep eq 'refresh';

    if ($ep eq 'token') {
        my $gt = $p->{grant_type} // '';
        return $self->_octo_refresh($st, $ep, $req, $S)
            if $gt eq 'refresh_token';
        return $self->_error(400, $ep, $S, 'unsupported_grant_type')
            unless $gt eq 'code' || $gt eq 'authorization_code';
        return $self->_error(401, $ep, $S, 'invalid_client')
            unless _client_ok($p, $S);
        my $code = $p->{code};
        my $t = defined $code && !ref $code ? $st->{tokens}->get($code) : undef;
        return $self->_error(400, $ep, $S, 'invalid_grant',
                             'unknown or used code')
            unless $t && $t->{type} eq 'code' && !$t->{used};
        $t->{used} = 1;    # single use, even when the rest is wrong
        return $self->_error(400, $ep, $S, 'invalid_grant', 'code expired')
            if time >= $t->{exp};
        return $self->_error(400, $ep, $S, 'invalid_grant',
                             'redirect_uri mismatch')
            if defined $t->{redirect_uri}
                && ($p->{redirect_uri} // '') ne $t->{redirect_uri};
        my ($tok, $now) = _issue_access($st, $S);
        my %b = (access_token => $tok, refresh_token => _issue_refresh($st),
                 _expiry_fields($S, $now));
        my $r = $self->_token_answer($S, \%b, $tok);
        $r->{refresh_token} = $b{refresh_token};
        return $r;
    }

    return _json_r(401, { error => 'invalid_token' },
                   ['WWW-Authenticate', 'Bearer error="invalid_token"'])
        unless _check_token($st, $S, $req->{bearer}, 1);
    my $r = $self->_json_echo($req, $req->{bearer});
    $self->_shape($r, $S);
    return $r;
}


# --- generic OAuth 2.0 client credentials

sub _h_oauth {
    my ($self, $st, $ep, $req, $S) = @_;

    if ($ep eq 'login') {
        my $bad = $self->_need_post($req, $S, 1);
        return $bad if $bad;
        my $p = $req->{params};
        my @nostore = (['Cache-Control', 'no-store'], ['Pragma', 'no-cache']);

        for my $k (keys %$p) {
            return $self->_error(400, $ep, $S, 'invalid_request',
                                 "parameter $k repeated")
                if ref $p->{$k};
        }

        my ($id, $secret, $how);
        my $has_basic = defined $req->{basic_user};
        my $has_post = defined $p->{client_id} || defined $p->{client_secret};
        if ($has_basic && $has_post) {
            $req->{client_auth} = 'both';
            return $self->_error(400, $ep, $S, 'invalid_request',
                                 'more than one client authentication');
        }
        if ($has_basic) {
            ($id, $secret, $how) = ($req->{basic_user}, $req->{basic_pass},
                                    'basic');
            for ($id, $secret) {
                next unless defined;
                tr/+/ /;
                s/%([0-9a-fA-F]{2})/chr hex $1/ge;
            }
        } elsif ($has_post) {
            ($id, $secret, $how) = ($p->{client_id}, $p->{client_secret},
                                    'post');
        } else {
            $how = 'none';
        }
        $req->{client_auth} = $how;
        $req->{client_id} = $id;

        my $allowed = $S->{client_auth} // 'any';
        if ($how eq 'none'
            || ($allowed ne 'any' && $allowed ne $how)
            || ($id // '') ne $S->{client_id}
            || ($secret // '') ne $S->{client_secret}) {
            my $r = $self->_error(401, $ep, $S, 'invalid_client');
            push @{ $r->{headers} }, ['WWW-Authenticate',
                'Basic realm="mock-partner"'] if $how eq 'basic';
            return $r;
        }

        return $self->_error(400, $ep, $S, 'unsupported_grant_type')
            unless ($p->{grant_type} // '') eq 'client_credentials';

        for my $f (qw(scope audience resource)) {
            my $want = $S->{"require_$f"};
            next unless defined $want;
            next if ($p->{$f} // "\0none") eq $want;
            return $self->_error(400, $ep, $S,
                $f eq 'scope' ? 'invalid_scope' : 'invalid_request',
                "$f must be '$want'");
        }

        my ($tok, $now) = _issue_access($st, $S);
        my %b = (access_token => $tok, token_type => $S->{token_type},
                 _expiry_fields($S, $now));
        $b{scope} = $p->{scope} if defined $p->{scope};
        return $self->_token_answer($S, \%b, $tok, @nostore);
    }

    return _json_r(401, { error => 'invalid_token' },
                   ['WWW-Authenticate', 'Bearer error="invalid_token"'])
        unless _check_token($st, $S, $req->{bearer}, 1);
    my $r = $self->_json_echo($req, $req->{bearer});
    $self->_shape($r, $S);
    return $r;
}


# ------------------------------------------------------------------ writing

sub _write_all {
    my ($c, $data) = @_;
    my $off = 0;
    while ($off < length $data) {
        my $n = $c->syswrite($data, 65536, $off);
        return 0 unless $n;
        $off += $n;
    }
    return 1;
}


sub _respond {
    my ($self, $c, $r, $S) = @_;

    if (my $ms = $S->{delay_ms}) {
        sleep $ms / 1000;
    }

    my $action = $r->{action} // '';

    if ($action eq 'hang') {
        # never answer; leave when the client closes or after hang_max
        my $end = time + ($S->{hang_max} || 60);
        while ((my $left = $end - time) > 0) {
            next unless _readable($c, $left < 1 ? $left : 1);
            my $buf;
            my $n = $c->sysread($buf, 65536);
            last unless $n;
        }
        _abort($c);
        return;
    }

    if ($action eq 'close') {
        _abort($c);
        return;
    }

    if ($action eq 'reset') {
        setsockopt($c, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
        _abort($c);
        return;
    }

    _send($c, $r, $S, $self->{kind});
}


sub _abort {
    my ($c) = @_;
    if ($c->isa('IO::Socket::SSL')) {
        $c->close(SSL_no_shutdown => 1);
    } else {
        close $c;
    }
}


sub _send {
    my ($c, $r, $S, $kind) = @_;

    my $body = $r->{body} // '';
    my $status = $r->{status} // 200;

    my $head = "HTTP/1.1 $status " . _reason($status) . "\r\n"
        . 'Date: ' . POSIX::strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime)
        . "\r\nServer: mock-partner" . (defined $kind ? " ($kind)" : '')
        . "\r\nConnection: close\r\n";
    $head .= "Content-Type: $r->{ctype}\r\n" if defined $r->{ctype};
    $head .= "$_->[0]: $_->[1]\r\n" for @{ $r->{headers} // [] };

    if ($S->{chunked}) {
        $head .= "Transfer-Encoding: chunked\r\n\r\n";
        _write_all($c, $head) or return;
        my $n = $S->{chunk_count} || 4;
        my $size = int((length($body) + $n - 1) / $n) || 1;
        my @parts;
        push @parts, substr($body, 0, $size, '') while length $body;
        for my $i (0 .. $#parts) {
            sleep(($S->{chunk_delay_ms} // 10) / 1000) if $i;
            _write_all($c, sprintf("%x\r\n", length $parts[$i])
                           . $parts[$i] . "\r\n") or return;
        }
        sleep(($S->{chunk_delay_ms} // 10) / 1000);
        _write_all($c, "0\r\n\r\n");
    } elsif ($S->{truncate}) {
        $head .= 'Content-Length: ' . length($body) . "\r\n\r\n";
        _write_all($c, $head . substr($body, 0, int(length($body) / 2)));
        _abort($c);
        return;
    } elsif ($S->{no_length}) {
        _write_all($c, "$head\r\n$body");
    } else {
        $head .= 'Content-Length: ' . length($body) . "\r\n\r\n";
        _write_all($c, $head . $body);
    }

    if ($c->isa('IO::Socket::SSL')) {
        $c->close(SSL_fast_shutdown => 1);
    } else {
        shutdown($c, 1);
        # let the client read everything before the socket goes away
        my $end = time + 2;
        while (time < $end && _readable($c, 0.2)) {
            my $buf;
            last unless $c->sysread($buf, 4096);
        }
        close $c;
    }
}


# ------------------------------------------------------------------ certs

sub _openssl {
    my (@args) = @_;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null' unless $ENV{MOCK_PARTNER_DEBUG};
        { exec 'openssl', @args }
        POSIX::_exit(127);
    }
    waitpid($pid, 0);
    die "openssl @args: failed (exit " . ($? >> 8) . ")\n" if $?;
}


sub make_certs {
    my ($dir) = @_;
    make_path($dir) unless -d $dir;

    # tests running in parallel may share the directory
    open my $lk, '>>', "$dir/.lock" or die "$dir/.lock: $!";
    flock($lk, LOCK_EX) or die "flock: $!";

    my %f = (
        ca => "$dir/ca.crt", ca_key => "$dir/ca.key",
        cert => "$dir/server.crt", key => "$dir/server.key",
        other_ca => "$dir/other-ca.crt", other_ca_key => "$dir/other-ca.key",
        self_signed_cert => "$dir/self-signed.crt",
        self_signed_key => "$dir/self-signed.key",
        wrong_name_cert => "$dir/wrong-name.crt",
        wrong_name_key => "$dir/wrong-name.key",
        expired_cert => "$dir/expired.crt", expired_key => "$dir/expired.key",
    );

    return \%f unless grep { !-s $_ } values %f;

    my @ec = ('-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
              '-nodes');
    my $days = 3650;

    for my $ca ([qw(ca MockPartner-Test-CA)],
                [qw(other_ca MockPartner-Other-CA)]) {
        my ($name, $cn) = @$ca;
        _openssl('req', '-x509', @ec, '-keyout', $f{"${name}_key"},
            '-out', $f{$name}, '-days', $days, '-subj', "/CN=$cn",
            '-addext', 'basicConstraints=critical,CA:TRUE',
            '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    }

    my $ext = sub {
        my ($name, $san) = @_;
        my $path = "$dir/$name.ext";
        open my $fh, '>', $path or die "$path: $!";
        print $fh "basicConstraints=CA:FALSE\n"
            . "keyUsage=critical,digitalSignature,keyEncipherment\n"
            . "extendedKeyUsage=serverAuth\n"
            . "subjectKeyIdentifier=hash\n"
            . "authorityKeyIdentifier=keyid\n"
            . "subjectAltName=$san\n";
        close $fh;
        return $path;
    };

    # signed by the CA: localhost + 127.0.0.1, and a wrong name
    for my $leaf (['cert', 'key', 'localhost', 'DNS:localhost,IP:127.0.0.1'],
                  ['wrong_name_cert', 'wrong_name_key', 'wrong.example',
                   'DNS:wrong.example']) {
        my ($crt, $key, $cn, $san) = @$leaf;
        _openssl('req', @ec, '-keyout', $f{$key}, '-out', "$f{$crt}.csr",
                 '-subj', "/CN=$cn");
        _openssl('x509', '-req', '-in', "$f{$crt}.csr", '-CA', $f{ca},
            '-CAkey', $f{ca_key}, '-CAcreateserial', '-out', $f{$crt},
            '-days', $days, '-extfile', $ext->($crt, $san));
        unlink "$f{$crt}.csr";
    }

    # nobody vouches for this one
    _openssl('req', '-x509', @ec, '-keyout', $f{self_signed_key},
        '-out', $f{self_signed_cert}, '-days', $days, '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1');

    # signed by the CA, valid only in 2020: "openssl ca" takes dates
    my $cadir = "$dir/ca-db";
    make_path($cadir);
    open my $idx, '>', "$cadir/index.txt" or die $!;
    close $idx;
    open my $ser, '>', "$cadir/serial" or die $!;
    print $ser "1000\n";
    close $ser;
    open my $cnf, '>', "$cadir/ca.cnf" or die $!;
    print $cnf <<"CNF";
[ ca ]
default_ca = mock

[ mock ]
dir = $cadir
database = $cadir/index.txt
serial = $cadir/serial
new_certs_dir = $cadir
certificate = $f{ca}
private_key = $f{ca_key}
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
x509_extensions = leaf

[ any ]
commonName = supplied

[ leaf ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
CNF
    close $cnf;
    _openssl('req', @ec, '-keyout', $f{expired_key},
             '-out', "$cadir/expired.csr", '-subj', '/CN=localhost');
    _openssl('ca', '-batch', '-config', "$cadir/ca.cnf", '-in',
        "$cadir/expired.csr", '-out', $f{expired_cert}, '-notext',
        '-startdate', '20200101000000Z', '-enddate', '20201231000000Z');

    chmod 0644, grep { /\.crt$/ } values %f;
    chmod 0600, grep { /\.key$/ } values %f;

    return \%f;
}

# ------------------------------------------------------------------ tokens
# One small file per token (named by its SHA-256), so that the state file
# stays small however many tokens the tests make.  Only used inside the
# state lock; records read or made in a transaction are written back at
# its end when they changed.

package MockPartner::TokenStore;

sub new {
    my ($class, $dir) = @_;
    return bless { dir => "$dir/tokens", cache => {}, orig => {} }, $class;
}

sub _path { "$_[0]{dir}/" . Digest::SHA::sha256_hex($_[1]) }

sub get {
    my ($self, $tok) = @_;
    return $self->{cache}{$tok} if exists $self->{cache}{$tok};
    my $r = MockPartner::_read_json($self->_path($tok));
    $r = undef if $r && $r->{token} ne $tok;
    $self->{cache}{$tok} = $r;
    $self->{orig}{$tok} = $r ? $JSON->encode($r) : '';
    return $r;
}

sub put {
    my ($self, $tok, $rec) = @_;
    $rec->{token} = $tok;
    $self->{cache}{$tok} = $rec;
    $self->{orig}{$tok} = '';
    return $rec;
}

sub all {
    my ($self) = @_;
    opendir my $dh, $self->{dir} or return;
    my @r;
    for my $f (grep { /^[0-9a-f]{64}$/ } readdir $dh) {
        my $r = MockPartner::_read_json("$self->{dir}/$f") or next;
        push @r, $self->get($r->{token});
    }
    return grep { defined } @r;
}

sub flush {
    my ($self) = @_;
    for my $tok (keys %{ $self->{cache} }) {
        my $r = $self->{cache}{$tok} or next;
        next if $JSON->encode($r) eq $self->{orig}{$tok};
        MockPartner::_write_json($self->_path($tok), $r);
    }
}

1;
