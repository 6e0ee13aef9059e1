package OAuthBrowser;

# The operator's browser in the authorization-code flow tests: follows the
# connect step to the (mock) authorize page and back, carrying the state
# cookie, and calls the callback.
#
#   my $s = connect_step($port);      # {connect, cookie, authorize,
#                                     #  callback, params}
#   my $r = callback($port, $s);      # the callback page

use strict;
use warnings;

use Exporter 'import';
use Time::HiRes qw(sleep);
use EdgeAuthTest;

our @EXPORT = qw(get split_url query connect_step callback);


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

# the connect step up to the callback URL: what a browser would carry
sub connect_step {
    my ($port, $connect) = @_;
    my $r = get($port, $connect // '/octorate/connect');
    my ($cookie) = map { /^(credential_state=[^;]*)/ ? $1 : () }
        @{ $r->{headers}{'set-cookie'} || [] };
    my $loc = $r->{headers}{location}[0] // '';
    my %s = (connect => $r, cookie => $cookie, authorize => $loc);
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
