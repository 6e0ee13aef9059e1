package TestServer::Certs;

# Certificates for the TLS tests, made with openssl at test time (see
# make_certs below); TestServer::make_certs is the same function.

use strict;
use warnings;

use Digest::SHA ();
use Fcntl qw(:flock);
use File::Copy ();
use File::Path qw(make_path);
use POSIX ();

sub _openssl {
    my (@args) = @_;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null'
            unless $ENV{TEST_SERVER_DEBUG} || $ENV{MOCK_PARTNER_DEBUG};
        { exec 'openssl', @args }
        POSIX::_exit(127);
    }
    waitpid($pid, 0);
    die "openssl @args: failed (exit " . ($? >> 8) . ")\n" if $?;
}


# Certificates for TLS tests, made with openssl in $dir (existing files
# are reused):
#   cert/key                        localhost + IP 127.0.0.1, signed by ca
#   other_ca                        a CA that signed nothing here
#   self_signed_cert/key            localhost + 127.0.0.1, no CA vouches
#   wrong_name_cert/key             signed by ca, for wrong.example only
#   expired_cert/key                signed by ca, valid only in 2020

sub make_certs {
    my ($dir) = @_;
    make_path($dir) unless -d $dir;

    # TEST_CERT_CACHE (make test sets it): one set for the whole run, made
    # by the first file that asks and copied into each $dir, instead of
    # nine openssl runs for every file and mock partner with TLS; the set
    # is kept under a digest of this file, so a change here makes new ones
    if (my $cache = $ENV{TEST_CERT_CACHE}) {
        my $set = _make_certs(_cache_dir($cache));
        my %f;
        for my $k (keys %$set) {
            ($f{$k} = $set->{$k}) =~ s{.*/}{$dir/};
            next if -s $f{$k};
            File::Copy::copy($set->{$k}, "$f{$k}.tmp")
                or die "copy $set->{$k}: $!";
            chmod((stat $set->{$k})[2] & 07777, "$f{$k}.tmp");
            rename "$f{$k}.tmp", $f{$k} or die "rename $f{$k}: $!";
        }
        return \%f;
    }

    return _make_certs($dir);
}


sub _cache_dir {
    my ($cache) = @_;
    open my $fh, '<', __FILE__ or die __FILE__ . ": $!";
    local $/;
    my $digest = Digest::SHA::sha1_hex(<$fh>);
    close $fh;
    return "$cache/certs-" . substr($digest, 0, 16);
}


sub _make_certs {
    my ($dir) = @_;
    make_path($dir) unless -d $dir;

    # processes that share the directory make them once
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

1;
