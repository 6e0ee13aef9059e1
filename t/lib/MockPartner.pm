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

Each mock is one TestServer (a server process in its own process group,
with a pool of workers that grows while connections are held) listening on
127.0.0.1 only, so it serves any number of concurrent connections.  Every answer carries C<Connection: close>;
request bodies may come with Content-Length or chunked (C<Expect:
100-continue> is honoured).  All shared state (settings, behaviours,
counters, issued tokens, the request log) lives in files of the state
directory, read and written under flock, never in process memory, so the
test process and every server process see the same thing.

A mock stops with C<< ->stop >>, when its object is destroyed, in an END
block of the process that started it, when that process disappears, and
in any case after C<max_runtime> seconds (default 3600).  A worker never
stays on one connection longer than C<hang_max> (default 60) + 60
seconds.

=head2 Partner kinds and endpoints

Paths are matched by their end, so a prefix such as C</rest/v1> or
C</dev> in front of them works.  Every request is counted under an
I<endpoint name>: C<login> is the main login endpoint of every kind,
Octorate adds C<refresh>, C<token> (code exchange) and C<authorize>; any
other path is the protected API, C<api>.  Each kind is a module of its
own, whose head comment says what it answers and which settings it has:

    nilo      MockPartner::Nilo      POST .../login, JSON, x-api-key
    amee      MockPartner::Amee      POST .../auth, form, authToken cookie
    octorate  MockPartner::Octorate  .../identity/apilogin, refresh, token
                                     (authorization code), authorize
    oauth     MockPartner::OAuth     RFC 6749 client credentials

What they share (settings, behaviours, state, the control methods below)
is MockPartner::Base; the HTTP server, TLS and the file-locked state are
TestServer's.

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
    $m->errors                   Perl errors of the server's workers ('' if none)
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
token, with JSON::PP: well under 10 ms of CPU per request, plain or TLS,
on a small machine (workers are forked ahead, not per connection); fine
for tests, not for benchmarks.

=cut

use strict;
use warnings;

use Carp qw(croak);
use TestServer ();

our $VERSION = '1.1';

my %CLASS = (
    nilo     => 'MockPartner::Nilo',
    amee     => 'MockPartner::Amee',
    octorate => 'MockPartner::Octorate',
    oauth    => 'MockPartner::OAuth',
);


# MockPartner->start(kind => KIND, ...): the mock of that kind
sub start {
    my ($class, %a) = @_;

    my $kind = $a{kind} or croak "MockPartner->start: kind is required";
    my $impl = $CLASS{$kind} or croak "MockPartner: unknown kind '$kind'";

    (my $file = "$impl.pm") =~ s{::}{/}g;
    require $file;

    return $impl->start(%a);
}

sub new { my $class = shift; return $class->start(@_) }

sub kinds { sort keys %CLASS }

sub make_certs { TestServer::make_certs(@_) }

1;
