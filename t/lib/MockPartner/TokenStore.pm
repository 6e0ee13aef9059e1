package MockPartner::TokenStore;

# The tokens a partner mock issued, for MockPartner::Base.
# One small file per token (named by its SHA-256), so that the state file
# stays small however many tokens the tests make.  Only used inside the
# state lock; records read or made in a transaction are written back at
# its end when they changed.

use strict;
use warnings;

use Digest::SHA ();
use JSON::PP ();
use TestServer::State;

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

sub new {
    my ($class, $dir) = @_;
    return bless { dir => "$dir/tokens", cache => {}, orig => {} }, $class;
}

sub _path { "$_[0]{dir}/" . Digest::SHA::sha256_hex($_[1]) }

sub get {
    my ($self, $tok) = @_;
    return $self->{cache}{$tok} if exists $self->{cache}{$tok};
    my $r = TestServer::State::read_json($self->_path($tok));
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
        my $r = TestServer::State::read_json("$self->{dir}/$f") or next;
        push @r, $self->get($r->{token});
    }
    return grep { defined } @r;
}

sub flush {
    my ($self) = @_;
    for my $tok (keys %{ $self->{cache} }) {
        my $r = $self->{cache}{$tok} or next;
        next if $JSON->encode($r) eq $self->{orig}{$tok};
        TestServer::State::write_json($self->_path($tok), $r);
    }
}

1;
