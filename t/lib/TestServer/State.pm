package TestServer::State;

# The state a stand-in shares between the test process and its server
# processes: a JSON object in DIR/state.json, read and rewritten under an
# flock on DIR/lock (see TestServer's POD, "State").

use strict;
use warnings;

use Fcntl qw(:flock);
use File::Path qw(make_path);
use JSON::PP ();

my $JSON = JSON::PP->new->utf8->allow_nonref;

# $initial: the state to start from (an existing one is replaced)
sub new {
    my ($class, $dir, $initial) = @_;
    make_path($dir) unless -d $dir;
    my $self = bless { dir => $dir }, $class;
    if ($initial) {
        my $lk = $self->lock(LOCK_EX);
        write_json("$dir/state.json", $initial);
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
    my $st = read_json("$self->{dir}/state.json")
        or die "TestServer::State: state lost in $self->{dir}\n";
    my @r = $code->($st);
    write_json("$self->{dir}/state.json", $st);
    close $lk;
    return wantarray ? @r : $r[0];
}

sub get {
    my ($self) = @_;
    my $lk = $self->lock(LOCK_SH);
    return read_json("$self->{dir}/state.json");
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
