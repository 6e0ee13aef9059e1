package RedisCluster;

# A Redis Cluster for the tests: three masters (no replicas), each a
# RedisServer with "cluster-enabled yes" on a free loopback port, joined
# by "redis-cli --cluster create"; and a slot moved from one master to
# another step by step, as "redis-cli --cluster reshard" does, so that a
# client meets "-ASK" and then "-MOVED".
#
#   my $c = RedisCluster->start(password => 'pw');
#   $c->seeds;                       # "127.0.0.1:P1,127.0.0.1:P2"
#   $c->node($i)->cmd(...);          # a RedisServer, 0 .. 2
#   $c->slot($key);  $c->owner($slot);  $c->find($key_re);
#   $c->migrating($slot, $from, $to);   # ASK from here on
#   $c->migrate_keys($slot, $from, $to);
#   $c->moved($slot, $to);              # MOVED from here on
#   $c->stop;

use strict;
use warnings;

use Time::HiRes qw(sleep);
use RedisServer;


sub start {
    my ($class, %o) = @_;

    my $self = bless { password => $o{password}, nodes => [] }, $class;

    for (1 .. ($o{masters} // 3)) {
        push @{ $self->{nodes} }, RedisServer->start(
            password => $o{password},
            conf => "cluster-enabled yes\n"
                    . "cluster-config-file nodes.conf\n"
                    . "cluster-node-timeout 2000\n"
                    . ($o{password} ? "masterauth $o{password}\n" : ''));
    }

    my @cli = ('redis-cli', ($o{password} ? ('--no-auth-warning', '-a',
                                             $o{password}) : ()));
    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec @cli, '--cluster', 'create',
             (map { $_->address } @{ $self->{nodes} }),
             '--cluster-yes'
            or exit 127;
    }

    waitpid $pid, 0;
    die "redis-cli --cluster create failed" if $?;

    # every node agrees that all slots are served
    for (1 .. 200) {
        my $ok = grep {
            my $info = $_->cmd('CLUSTER', 'INFO');
            $info =~ /cluster_state:ok/ && $info =~ /cluster_slots_ok:16384/;
        } @{ $self->{nodes} };
        return $self if $ok == @{ $self->{nodes} };
        sleep 0.05;
    }

    die "the Redis Cluster is not ready";
}


sub node { $_[0]{nodes}[$_[1]] }
sub nodes { @{ $_[0]{nodes} } }
sub seeds { join ',', map { $_->address } $_[0]->nodes }
sub id { $_[0]->node($_[1])->cmd('CLUSTER', 'MYID') }


sub slot {
    my ($self, $key) = @_;
    return $self->node(0)->cmd('CLUSTER', 'KEYSLOT', $key);
}


# the index of the master serving the slot, as node 0 sees it

sub owner {
    my ($self, $slot) = @_;

    for my $range (@{ $self->node(0)->cmd('CLUSTER', 'SLOTS') }) {
        next unless $range->[0] <= $slot && $slot <= $range->[1];
        my $port = $range->[2][1];
        my ($i) = grep { $self->node($_)->port == $port }
                       0 .. $#{ $self->{nodes} };
        return $i;
    }

    return undef;
}


# the keys matching a pattern, on each node: [ [node 0's], [node 1's], ... ]

sub keys_by_node {
    my ($self, $re) = @_;
    return [ map { [ grep { /$re/ } @{ $_->cmd('KEYS', '*') } ] }
             $self->nodes ];
}


# the slot is being moved: its keys still where they are, new ones and
# missing ones asked at the target ("-ASK")

sub migrating {
    my ($self, $slot, $from, $to) = @_;

    my $r1 = $self->node($to)->cmd('CLUSTER', 'SETSLOT', $slot, 'IMPORTING',
                                   $self->id($from));
    my $r2 = $self->node($from)->cmd('CLUSTER', 'SETSLOT', $slot,
                                     'MIGRATING', $self->id($to));
    die "SETSLOT: $r1 $r2" unless $r1 eq 'OK' && $r2 eq 'OK';
}


# the slot's keys, moved to the target (the source then says "-ASK")

sub migrate_keys {
    my ($self, $slot, $from, $to) = @_;

    my $keys = $self->node($from)->cmd('CLUSTER', 'GETKEYSINSLOT', $slot,
                                       100);
    return 0 unless @$keys;

    my $r = $self->node($from)->cmd('MIGRATE', '127.0.0.1',
        $self->node($to)->port, '', 0, 5000,
        ($self->{password} ? ('AUTH', $self->{password}) : ()),
        'KEYS', @$keys);
    die "MIGRATE: $r" unless $r eq 'OK';

    return scalar @$keys;
}


# the move is over: every master says the target owns the slot ("-MOVED")

sub moved {
    my ($self, $slot, $to) = @_;

    my $id = $self->id($to);

    for my $i ($to, grep { $_ != $to } 0 .. $#{ $self->{nodes} }) {
        my $r = $self->node($i)->cmd('CLUSTER', 'SETSLOT', $slot, 'NODE',
                                     $id);
        die "SETSLOT NODE: $r" unless $r eq 'OK';
    }
}


sub stop { $_->stop for $_[0]->nodes }


1;
