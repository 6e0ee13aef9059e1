package TestServer::State;

# The state a stand-in shares between the test process and its server
# processes: a hash in DIR/state (Storable), read and rewritten under an
# flock on DIR/lock (see TestServer's POD, "State").  Storable, not JSON:
# the mocks read and write the state at every request and the tests read it
# while they wait, and JSON::PP (the JSON module every Perl has) took 1 ms
# for each, 100 times Storable's.  read_json and write_json stay for the
# mocks' other files.

use strict;
use warnings;

use Fcntl qw(:flock);
use File::Path qw(make_path);
use JSON::PP ();
use Storable ();

my $JSON = JSON::PP->new->utf8->allow_nonref;

# $initial: the state to start from (an existing one is replaced)
sub new {
    my ($class, $dir, $initial) = @_;
    make_path($dir) unless -d $dir;
    my $self = bless { dir => $dir }, $class;
    if ($initial) {
        my $lk = $self->lock(LOCK_EX);
        _store("$dir/state", $initial);
    }
    return $self;
}

sub dir { $_[0]{dir} }

sub write_json {
    my ($path, $data) = @_;
    open my $fh, '>', "$path.tmp.$$" or die "$path.tmp.$$: $!";
    print $fh $JSON->encode($data);
    close $fh or die "$path.tmp.$$: $!";
    rename "$path.tmp.$$", $path or die "rename $path: $!";
}

# the state, as [$data] (Storable keeps references only)

sub _store {
    my ($path, $data) = @_;
    open my $fh, '>:raw', "$path.tmp.$$" or die "$path.tmp.$$: $!";
    print $fh Storable::nfreeze([$data]);
    close $fh or die "$path.tmp.$$: $!";
    rename "$path.tmp.$$", $path or die "rename $path: $!";
}

sub _load {
    my ($path) = @_;
    open my $fh, '<:raw', $path or return undef;
    local $/;
    my $bytes = <$fh>;
    return undef unless defined $bytes && length $bytes;
    return Storable::thaw($bytes)->[0];
}

# the whole state replaced (the caller holds the lock)

sub replace {
    my ($self, $data) = @_;
    _store("$self->{dir}/state", $data);
}

sub read_json {
    my ($path) = @_;
    open my $fh, '<', $path or return undef;
    local $/;
    my $text = <$fh>;
    return undef unless defined $text && length $text;
    return $JSON->decode($text);
}

sub lock {
    my ($self, $mode) = @_;
    open my $lk, '>>', "$self->{dir}/lock" or die "$self->{dir}/lock: $!";
    flock($lk, $mode // LOCK_EX) or die "flock: $!";
    return $lk;
}

# read-modify-write of the state under an exclusive lock
sub txn {
    my ($self, $code) = @_;
    my $lk = $self->lock(LOCK_EX);
    my $st = _load("$self->{dir}/state")
        or die "TestServer::State: state lost in $self->{dir}\n";
    my @r = $code->($st);
    _store("$self->{dir}/state", $st);
    close $lk;
    return wantarray ? @r : $r[0];
}

sub get {
    my ($self) = @_;
    my $lk = $self->lock(LOCK_SH);
    return _load("$self->{dir}/state");
}

# raw bytes beside the state, replaced whole (call under lock when they
# must agree with the state)
sub write_file {
    my ($self, $name, $bytes) = @_;
    my $path = "$self->{dir}/$name";
    open my $fh, '>', "$path.tmp.$$" or die "$path: $!";
    print $fh $bytes;
    close $fh or die "$path: $!";
    rename "$path.tmp.$$", $path or die "rename $path: $!";
}

sub read_file {
    my ($self, $name) = @_;
    open my $fh, '<', "$self->{dir}/$name" or return undef;
    local $/;
    return scalar <$fh>;
}


1;
