package RedisCluster;

# A Redis Cluster for the tests: three masters (no replicas), each a
# RedisServer with "cluster-enabled yes" on a free loopback port, joined
# by "redis-cli --cluster create"; and a slot moved from one master to
# another step by step, as "redis-cli --cluster reshard" does, so that a
# client meets "-ASK" and then "-MOVED".
#
#   my $c = RedisCluster->start(password => 'pw');
#   RedisCluster->start(tls => { cert => ..., key => ..., ca => ...,
#                                client_cert => ..., client_key => ... });
#       # TLS only; the nodes present the client certificate (clientAuth)
#       # to each other on the cluster bus, which always checks it
#   $c->seeds;                       # "127.0.0.1:P1,127.0.0.1:P2"
#   $c->node($i)->cmd(...);          # a RedisServer, 0 .. 2
#   $c->slot($key);  $c->owner($slot);  $c->find($key_re);
#   $c->migrating($slot, $from, $to);   # ASK from here on
#   $c->migrate_keys($slot, $from, $to);
#   $c->moved($slot, $to);              # MOVED from here on
#   my $r = $c->add_replica($i);        # a replica of master $i, synced
#   $c->kill_node($i); $c->takeover($r); # the master dies, its replica
#                                       # takes over (CLUSTER FAILOVER)
#   $c->stop;

use strict;
use warnings;

use Time::HiRes qw(sleep);
use RedisServer;


sub start {
    my ($class, %o) = @_;

    my $self = bless { password => $o{password}, tls => $o{tls},
                       nodes => [] }, $class;

    for (1 .. ($o{masters} // 3)) {
        push @{ $self->{nodes} }, RedisServer->start(
            password => $o{password}, tls => $o{tls},
            conf => $self->_node_conf);
    }

    $self->_cli('--cluster', 'create',
                (map { $_->address } @{ $self->{nodes} }), '--cluster-yes');

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


sub _cli {
    my ($self, @args) = @_;

    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        alarm 30;    # "Waiting for the cluster to join" is forever
        exec 'redis-cli', ($self->{password} ? ('--no-auth-warning', '-a',
                                                $self->{password}) : ()),
             ($self->{tls} ? ('--tls', '--cacert', $self->{tls}{ca}) : ()),
             @args
            or exit 127;
    }

    waitpid $pid, 0;
    die "redis-cli @args[0 .. 1] failed" if $?;
}


sub _node_conf {
    my ($self) = @_;
    my $tls = $self->{tls};
    # the bus on a port of its own: by default it is the port + 10000,
    # which another test (or an outgoing connection) may hold
    return [ 'cluster-enabled yes', 'cluster-config-file nodes.conf',
             'cluster-node-timeout 2000',
             'cluster-port ' . EdgeAuthTest::free_port(),
             ($self->{password} ? "masterauth $self->{password}" : ()),
             ($tls ? ('tls-cluster yes', 'tls-replication yes',
                      "tls-client-cert-file $tls->{client_cert}",
                      "tls-client-key-file $tls->{client_key}") : ()) ];
}


sub node { $_[0]{nodes}[$_[1]] }
sub nodes { @{ $_[0]{nodes} } }
sub seeds { join ',', map { $_->address } $_[0]->nodes }
sub id { $_[0]->node($_[1])->cmd('CLUSTER', 'MYID') }


sub slot {
    my ($self, $key) = @_;
    return $self->alive->cmd('CLUSTER', 'KEYSLOT', $key);
}


# a node that was not killed

sub alive {
    my ($self) = @_;
    my ($i) = grep { !$self->{dead}{$_} } 0 .. $#{ $self->{nodes} };
    return $self->node($i);
}


# the index of the master serving the slot, as a live node sees it

sub owner {
    my ($self, $slot) = @_;

    for my $range (@{ $self->alive->cmd('CLUSTER', 'SLOTS') }) {
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
    return [ map { $self->{dead}{$_} ? []
                   : [ grep { /$re/ } @{ $self->node($_)->cmd('KEYS', '*') } ] }
             0 .. $#{ $self->{nodes} } ];
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

    for my $i ($to, grep { $_ != $to && !$self->{dead}{$_} }
                         0 .. $#{ $self->{nodes} })
    {
        my $r = $self->node($i)->cmd('CLUSTER', 'SETSLOT', $slot, 'NODE',
                                     $id);
        die "SETSLOT NODE: $r" unless $r eq 'OK';
    }
}


# a replica of master $m, once it has the master's data

sub add_replica {
    my ($self, $m) = @_;

    my $r = RedisServer->start(password => $self->{password},
                               tls => $self->{tls},
                               conf => $self->_node_conf);
    push @{ $self->{nodes} }, $r;

    $self->_cli('--cluster', 'add-node', $r->address,
                $self->node($m)->address, '--cluster-slave',
                '--cluster-master-id', $self->id($m));

    for (1 .. 200) {
        my $info = $r->cmd('INFO', 'replication');
        return $#{ $self->{nodes} }
            if $info =~ /master_link_status:up/
               && $info =~ /master_sync_in_progress:0/;
        sleep 0.05;
    }

    die "the replica does not sync";
}


sub kill_node {
    my ($self, $i) = @_;
    $self->node($i)->stop;
    $self->{dead}{$i} = 1;
}


# the replica takes over its dead master's slots, without waiting for
# the cluster to find the master failed; done once the others agree

sub takeover {
    my ($self, $r) = @_;

    my $ok = $self->node($r)->cmd('CLUSTER', 'FAILOVER', 'TAKEOVER');
    die "CLUSTER FAILOVER TAKEOVER: $ok" unless $ok eq 'OK';

    my $port = $self->node($r)->port;

    for (1 .. 200) {
        my $agree = grep {
            my $n = $self->node($_);
            !$self->{dead}{$_} && $_ != $r
            && grep { $_->[2][1] == $port } @{ $n->cmd('CLUSTER', 'SLOTS') };
        } 0 .. $#{ $self->{nodes} };
        return if $agree == @{ $self->{nodes} } - 1 - keys %{ $self->{dead} };
        sleep 0.05;
    }

    die "the takeover is not seen by every master";
}


sub stop { $_->stop for $_[0]->nodes }


1;
