#!/usr/bin/perl

# Every file of conf.examples/ passes "nginx -t" with exactly the steps its
# header comment gives (the "#   $ command" lines of its "Try it" block),
# and all of them together pass in one http block, with no warning (a
# "conflicting server name" would silently drop a server).
#
# The steps run as written, from conf.examples/, in a temporary directory
# that stands for / : /etc/nginx and /var/log/nginx in the commands and in
# the installed files become directories under it, and "nginx -t" becomes
# the nginx under test with a Debian-like nginx.conf (load_module, then
# "include /etc/nginx/conf.d/*.conf;" in http {}).  Nothing needs DNS.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Temp qw(tempdir);
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;

my $NGINX = $ENV{NGINX_BIN} // '/usr/sbin/nginx';
my $MODULE = $ENV{MODULE} or plan skip_all => 'MODULE is not set';
my $EXAMPLES = abs_path("$FindBin::Bin/../conf.examples");

# MODULE=none: NGINX_BIN has the module built in (make test-static)
my $LOAD = $MODULE eq 'none' ? '' : "load_module $MODULE;";

my @files = sort glob "$EXAMPLES/*.conf";
ok(@files >= 12, 'conf.examples/ has its example files') or diag "@files";


# the "$ command" lines of a file's header, continuation lines joined

sub steps {
    my ($file) = @_;

    open my $fh, '<', $file or die "$file: $!";
    my (@steps, $cont);

    while (my $line = <$fh>) {
        last unless $line =~ /^#/;          # the header ends at the config

        if (defined $cont) {
            $line =~ s/^#\s*//;
            $line =~ s/\s+\z//;
            $cont .= ' ' . $line;
        } elsif ($line =~ /^#\s+\$ (.*?)\s*$/) {
            $cont = $1;
        } else {
            next;
        }

        next if $cont =~ s/\s*\\\z//;
        push @steps, $cont;
        undef $cont;
    }

    close $fh;
    return @steps;
}


# a temporary / with a Debian-like /etc/nginx

sub new_root {
    my $root = tempdir('edge-auth-examples-XXXXXX', TMPDIR => 1,
                       CLEANUP => 1);

    mkdir "$root/$_" or die "$root/$_: $!"
        for qw(etc etc/nginx etc/nginx/conf.d var var/log var/log/nginx);

    open my $fh, '>', "$root/etc/nginx/nginx.conf" or die "nginx.conf: $!";
    print $fh <<"CONF";
$LOAD
pid $root/nginx.pid;
error_log $root/var/log/nginx/error.log;
worker_processes 1;
events { worker_connections 64; }
http {
    include $root/etc/nginx/conf.d/*.conf;
}
CONF
    close $fh;

    return $root;
}


sub map_paths {
    my ($root, $text) = @_;
    $text =~ s{(?<![\w/.-])/etc/nginx(?=/|\b)}{$root/etc/nginx}g;
    $text =~ s{(?<![\w/.-])/var/log/nginx(?=/|\b)}{$root/var/log/nginx}g;
    return $text;
}


# one step: paths mapped, "nginx -t" the nginx under test, no sudo

sub command {
    my ($root, $step) = @_;

    my $cmd = map_paths($root, $step);
    $cmd =~ s/^sudo\s+//;
    $cmd =~ s{\bnginx -t\b}{$NGINX -p $root/ -e $root/var/log/nginx/error.log -c $root/etc/nginx/nginx.conf -t}g;
    return $cmd;
}


# runs the steps of a file in $root; the last must be the "nginx -t"

sub prepare {
    my ($root, $file) = @_;

    my @steps = steps($file);
    my $name = $file =~ s{.*/}{}r;

    ok(@steps >= 2, "$name: its header gives the steps to try it")
        or return;
    like($steps[-1], qr/\bnginx -t\b/, "$name: the last step is nginx -t");
    ok(scalar(grep { /\bcp\b.*\Q$name\E.*\/etc\/nginx\/conf\.d\// } @steps),
       "$name: a step installs it in /etc/nginx/conf.d/");

    for my $step (@steps[0 .. $#steps - 1]) {
        my $out = _sh(command($root, $step));
        ok($? == 0, "$name: step '$step'") or diag $out;
    }

    return $steps[-1];
}


# a command with sh -e, from conf.examples/; its output, $? its status

sub _sh {
    my ($cmd) = @_;

    my $pid = open(my $fh, '-|') // die "fork: $!";

    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        chdir $EXAMPLES or die "$EXAMPLES: $!";
        exec '/bin/sh', '-ec', $cmd or exit 127;
    }

    local $/;
    my $out = <$fh> // '';
    close $fh;
    return $out;
}


# the installed files name /etc/nginx and /var/log/nginx: the temporary ones

sub install_paths {
    my ($root) = @_;

    for my $f (glob "$root/etc/nginx/conf.d/*.conf") {
        open my $in, '<', $f or die "$f: $!";
        local $/;
        my $text = <$in>;
        close $in;
        open my $out, '>', $f or die "$f: $!";
        print $out map_paths($root, $text);
        close $out;
    }
}


sub nginx_t {
    my ($root, $step, $what) = @_;

    install_paths($root);

    my $out = _sh(command($root, $step));
    my $ok = $? == 0;

    ok($ok, "$what: nginx -t passes") or diag $out;
    like($out, qr/test is successful/, "$what: nginx -t says so")
        or diag $out;
    my @bad = grep { /\[(warn|emerg|alert|crit|error)\]/ } split /\n/, $out;
    is(scalar @bad, 0, "$what: no warning") or diag join "\n", @bad;
    unlike($out, qr/conflicting server name/,
           "$what: no conflicting server name");
}


# each file alone, in its own /

for my $file (@files) {
    my $root = new_root();
    my $last = prepare($root, $file) or next;
    nginx_t($root, $last, $file =~ s{.*/}{}r);
}


# all of them in one http block, each file's steps in turn

{
    my $root = new_root();
    my $last;

    # the check with the environment file, if any file needs one
    for my $file (@files) {
        my $step = prepare($root, $file) // next;
        $last = $step unless defined $last && $last =~ /nginx\.env/;
    }

    my @installed = map { s{.*/}{}r } glob "$root/etc/nginx/conf.d/*.conf";
    my @all = map { s{.*/}{}r } @files;
    is_deeply(\@installed, \@all, 'all examples installed together');

    nginx_t($root, $last, 'all examples together');
}

done_testing();
