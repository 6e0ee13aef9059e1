package PyRun;

# One python3 per test file for a verifier script (t/lib/pyrun.py): each
# check is a line to it instead of a new interpreter.
#
#   my $py = PyRun->new("$FindBin::Bin/lib/sigv4_verify.py");
#   my ($code, $out) = $py->run([@argv], { NAME => 'value' });

use strict;
use warnings;

use FindBin;
use IPC::Open2;
use JSON::PP;

my $JSON = JSON::PP->new->canonical;

sub new {
    my ($class, $script, $python) = @_;
    my $self = bless { script => $script }, $class;
    $self->{pid} = open2($self->{out}, $self->{in},
                         $python // '/usr/bin/python3',
                         "$FindBin::Bin/lib/pyrun.py", $script);
    return $self;
}

sub run {
    my ($self, $argv, $env) = @_;
    my $in = $self->{in};
    my $out = $self->{out};
    print $in $JSON->encode({ argv => $argv, env => $env // {} }), "\n";
    $in->flush;
    my $line = <$out>;
    return (255, "pyrun: no answer from $self->{script}") unless defined $line;
    my $r = $JSON->decode($line);
    return ($r->{code}, $r->{out});
}

sub DESTROY {
    my ($self) = @_;
    close $self->{in} if $self->{in};
    waitpid $self->{pid}, 0 if $self->{pid};
}

1;
