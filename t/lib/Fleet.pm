package Fleet;

# A gateway of a fleet for the Redis tests: an nginx (two workers) with one
# Nilo token credential whose tokens are shared through Redis, and a call
# of the Nilo API through it.
#
#   my ($n, $port) = Fleet::gateway(redis => $redis, nilo => $nilo,
#       id => ..., secret => ..., api_key => ..., seal_key => 32 bytes,
#       password => ..., [hex => 1, prefix => ..., user => ..., db => N,
#       address => 'unix:/path', log_level => ...,
#       sentinel => 'redis_sentinel=... redis_master=...' (instead of redis=),
#       cluster => 'host:port,host:port' (redis_cluster= instead of redis=),
#       store => 'more credential_store parameters', env => { NAME => ... },
#       credential => 'more directives of the credential block;',
#       locations => 'location ... { ... }']);
#   $n->start($port);
#   my ($status, $token) = Fleet::api($port);

use strict;
use warnings;

use EdgeAuthTest;


sub gateway {
    my (%o) = @_;

    my $port = free_port();
    my $url = $o{nilo}->url;
    my $locations = $o{locations} // '';
    my $more = $o{credential} // '';
    my $where = $o{cluster} ? "redis_cluster=$o{cluster}"
              : $o{sentinel} // 'redis=' . ($o{address} // $o{redis}->address);
    my $extra = join ' ',
        ($o{prefix} ? "redis_prefix=$o{prefix}" : ()),
        ($o{user} ? "redis_user=$o{user}" : ()),
        (defined $o{db} ? "redis_db=$o{db}" : ()),
        ($o{store} // ());

    my $n = nginx_new(workers => 2, log_level => $o{log_level} // 'info',
                      env => { NILO_SECRET => $o{secret},
                               REDIS_PW => $o{password},
                               %{ $o{env} // {} } },
                      http => <<"CONF");
    credential_store zone=tokens:1m $where
                     redis_password=env:REDIS_PW
                     redis_key=file:%%DIR%%/seal.key
                     redis_timeout=500ms $extra;

    credential nilo {
        header       x-api-key $o{api_key};
        login        $url/login;
        login_body   json;
        login_param  clientId $o{id};
        login_param  clientSecret env:NILO_SECRET;
        login_header x-api-key $o{api_key};
        token_header Authorization "Bearer {token}";
        $more
    }

    server {
        listen 127.0.0.1:$port;

        location / {
            credential_inject nilo;
            proxy_pass $url;
        }
$locations
    }
CONF

    # the same key, raw or as "openssl rand -hex 32" writes it
    $n->write_file('seal.key', $o{hex} ? unpack('H*', $o{seal_key}) . "\n"
                                       : $o{seal_key});

    return ($n, $port);
}


# (status, the token the Nilo stand-in saw)

sub api {
    my ($port) = @_;

    my $r = http_request($port, "GET /api/orders HTTP/1.1\nHost: x\n"
                                . "Connection: close\n\n");
    my ($tok) = $r->{body} =~ /"token"\s*:\s*"([^"]*)"/;

    return ($r->{status}, $tok // '');
}


1;
