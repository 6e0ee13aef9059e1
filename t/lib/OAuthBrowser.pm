package OAuthBrowser;

# The operator's browser in the authorization-code flow tests: opens the
# connect page, presses its button (a same-origin POST with the page's
# token and cookie), follows the redirect to the (mock) authorize page and
# back, carrying the state cookie, and calls the callback.
#
#   my $s = connect_step($port);      # {page, connect, cookie, authorize,
#                                     #  callback, params}
#   my $r = callback($port, $s);      # the callback page
#   my $p = connect_page($port);      # {page, token, cookie}
#   my $c = confirm($port, $path, $p, %headers);  # the POST's answer

use strict;
use warnings;

use Exporter 'import';
use Time::HiRes qw(sleep);
use EdgeAuthTest;

our @EXPORT = qw(get split_url query connect_step callback connect_page
                 confirm cookie_of);


# GET on 127.0.0.1:port; returns the answer (http_request's hash)
sub get {
    my ($port, $path, $cookie) = @_;
    my $req = "GET $path HTTP/1.1\nHost: 127.0.0.1:$port\nConnection: close\n";
    $req .= "Cookie: $cookie\n" if defined $cookie;
    return http_request($port, "$req\n");
}

sub split_url {
    my ($url) = @_;
    my ($port, $path) = $url =~ m{^https?://127\.0\.0\.1:(\d+)(/.*)$}
        or die "unexpected URL $url";
    return ($port, $path);
}

sub query {
    my ($path) = @_;
    my (undef, $q) = split /\?/, $path, 2;
    my %p;
    for (split /&/, $q // '') {
        my ($k, $v) = split /=/, $_, 2;
        $v //= '';
        $v =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
        $p{$k} = $v;
    }
    return \%p;
}

# NAME=VALUE of a cookie the answer sets (with or without __Host-)
sub cookie_of {
    my ($r, $name) = @_;
    my ($c) = map { /^((?:__Host-)?\Q$name\E=[^;]*)/ ? $1 : () }
        @{ $r->{headers}{'set-cookie'} || [] };
    return $c;
}

# GET of the connect page: its form's token and its cookie
sub connect_page {
    my ($port, $connect) = @_;
    my $r = get($port, $connect // '/octorate/connect');
    my ($token) = ($r->{body} // '') =~ /name="csrf" value="([^"]*)"/;
    return { page => $r, token => $token,
             cookie => cookie_of($r, 'credential_connect') };
}

# the button: a POST of the form, as a browser sends it from the page
sub confirm {
    my ($port, $path, $p, %h) = @_;
    my $body = defined $p->{token} ? "csrf=$p->{token}" : '';
    $h{Origin} //= "http://127.0.0.1:$port";
    $h{'Sec-Fetch-Site'} //= 'same-origin';
    my $req = "POST $path HTTP/1.1\nHost: 127.0.0.1:$port\n"
        . "Connection: close\n"
        . "Content-Type: application/x-www-form-urlencoded\n"
        . "Content-Length: " . length($body) . "\n";
    $req .= "Cookie: $p->{cookie}\n" if defined $p->{cookie};
    for (sort keys %h) {
        $req .= "$_: $h{$_}\n" if defined $h{$_};
    }
    return http_request($port, "$req\n$body");
}

# the connect step up to the callback URL: what a browser would carry
sub connect_step {
    my ($port, $connect) = @_;
    $connect //= '/octorate/connect';
    my $p = connect_page($port, $connect);
    my $r = confirm($port, $connect, $p);
    my $cookie = cookie_of($r, 'credential_state');
    my $loc = $r->{headers}{location}[0] // '';
    my %s = (page => $p->{page}, connect => $r, cookie => $cookie,
             authorize => $loc);
    return \%s unless $loc;
    my ($aport, $apath) = split_url($loc);
    my $a = get($aport, $apath);
    $s{callback} = $a->{headers}{location}[0] // '';
    $s{params} = query($s{callback});
    return \%s;
}

# a background renewal may be in flight: the page then says to reload it,
# and a browser's user would (only the busy test sees that answer)
sub callback {
    my ($port, $s, %o) = @_;
    my (undef, $path) = split_url($s->{callback});
    $path = $o{path} if defined $o{path};
    my $cookie = exists $o{cookie} ? $o{cookie} : $s->{cookie};
    my $r;
    for (1 .. ($o{once} ? 1 : 50)) {
        $r = get($port, $path, $cookie);
        last unless $r->{status} == 503 && $r->{body} =~ /in flight/;
        sleep 0.1;
    }
    return $r;
}



1;
