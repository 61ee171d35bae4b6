<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Feature;

use Mqtt\Client;
use MqttBroadcast\Laravel\Config\MqttBroadcastConfig;
use MqttBroadcast\Laravel\Connections;
use MqttBroadcast\Laravel\Exceptions\InvalidConfigException;
use MqttBroadcast\Laravel\Facades\MqttBroadcast;
use MqttBroadcast\Laravel\Tests\TestCase;
use MqttBroadcast\Tests\Support\Broker;

final class ConfigTest extends TestCase
{
    private const PACKAGE_CONFIG = __DIR__ . '/../../config/mqtt-broadcast.php';
    private const UPSTREAM_STYLE_CONFIG = __DIR__ . '/../app/config/mqtt-broadcast.php';

    public function test_the_package_config_file_means_the_documented_defaults(): void
    {
        // Without MQTT_HOST, the local environment's connections use the built-in broker (BuiltInBrokerTest).
        $config = MqttBroadcastConfig::fromArray(require self::PACKAGE_CONFIG, environment: 'local');

        $default = $config->connection('default');
        self::assertSame(['127.0.0.1', 1883, 0, false, '', null, 60, 3.0, true, ['#']], [
            $default->host, $default->port, $default->qos, $default->retain, $default->prefix,
            $default->clientId, $default->aliveInterval, $default->timeout, $default->cleanSession, $default->topics,
        ]);
        self::assertSame(['default'], array_map(static fn ($c) => $c->name, $config->connectionsFor('production')));
        self::assertFalse($config->logs->enabled);
        self::assertSame('mqtt_loggers', $config->logs->table);
        self::assertSame([100, 128, true, 10.0], [$config->memory->gcInterval, $config->memory->thresholdMb, $config->memory->autoRestart, $config->memory->restartDelaySeconds]);
        self::assertFalse($config->queue->enabled);
    }

    public function test_a_config_file_of_the_pure_php_package_is_accepted_unchanged(): void
    {
        // Its newest layout: defaults.connection, per-connection nulls from env(),
        // rate limiting, master_supervisor, repository, password...
        $config = MqttBroadcastConfig::fromArray(require self::UPSTREAM_STYLE_CONFIG);

        $default = $config->connection('default');
        self::assertTrue($default->selfSignedAllowed, 'null in the connection falls back to defaults.connection');
        self::assertSame(60, $default->aliveInterval);
        self::assertFalse($default->cleanSession);
        self::assertFalse($default->hasPersistentSession(), 'no clientId: no session to keep');
        self::assertSame(['alerts/#'], $config->connection('backup')->topics);
        self::assertSame(1, $config->connection('backup')->qos);
    }

    public function test_unknown_keys_are_named_with_a_suggestion(): void
    {
        $this->assertConfigError(
            ['connections' => ['default' => ['hots' => 'broker']]],
            'Unknown config key "mqtt-broadcast.connections.default.hots" (did you mean "host"?).'
        );
        $this->assertConfigError(['conections' => []], 'Unknown config key "mqtt-broadcast.conections" (did you mean "connections"?).');
        $this->assertConfigError(['memory' => ['treshold_mb' => 64]], '"mqtt-broadcast.memory.treshold_mb" (did you mean "threshold_mb"?)');
        $this->assertConfigError(
            ['connections' => ['default' => ['host' => 'h', 'tls' => ['ca' => '/x']]]],
            'Unknown config key "mqtt-broadcast.connections.default.tls.ca".'
        );
    }

    /** @return iterable<string, array{array<string, mixed>, string}> */
    public static function badValues(): iterable
    {
        $connection = static fn (array $values) => ['connections' => ['default' => ['host' => 'broker'] + $values]];
        yield 'port not a number' => [$connection(['port' => 'abc']), '"mqtt-broadcast.connections.default.port": must be an integer between 1 and 65535, got "abc".'];
        yield 'port out of range' => [$connection(['port' => 70000]), '"mqtt-broadcast.connections.default.port": must be an integer between 1 and 65535, got 70000.'];
        yield 'qos 3' => [$connection(['qos' => 3]), '"mqtt-broadcast.connections.default.qos": must be an integer between 0 and 2, got 3.'];
        yield 'retain not boolean' => [$connection(['retain' => 'maybe']), '"mqtt-broadcast.connections.default.retain": must be a boolean (true/false), got "maybe".'];
        yield 'negative keep alive' => [$connection(['alive_interval' => -1]), '"mqtt-broadcast.connections.default.alive_interval": must be an integer between 0 and 65535'];
        yield 'zero timeout' => [$connection(['timeout' => 0]), '"mqtt-broadcast.connections.default.timeout": must be a number greater than 0, got 0.'];
        yield 'empty host' => [['connections' => ['default' => ['host' => '']]], '"mqtt-broadcast.connections.default.host": must not be empty'];
        yield 'no host' => [['connections' => ['default' => ['port' => 1883]]], '"mqtt-broadcast.connections.default.host": is required'];
        yield 'empty topic filter' => [$connection(['topics' => ['a/#', '']]), '"mqtt-broadcast.connections.default.topics.1": must be a non-empty string'];
        yield 'auth without username' => [$connection(['auth' => true]), '"mqtt-broadcast.connections.default.username": is required when auth is true.'];
        yield 'connection not an array' => [['connections' => ['default' => 'mqtt://broker']], '"mqtt-broadcast.connections.default": must be an array, got "mqtt://broker".'];
        yield 'retry delay below a second' => [$connection(['max_retry_delay' => 0.5]), '"mqtt-broadcast.connections.default.max_retry_delay": must be at least 1 (seconds), got 0.5.'];
        yield 'supervisor retries' => [['supervisor' => ['max_retries' => 'often']] + $connection([]), '"mqtt-broadcast.supervisor.max_retries": must be an integer between 1 and'];
        yield 'defaults.connection' => [['defaults' => ['connection' => ['qos' => 'high']]] + $connection([]), '"mqtt-broadcast.defaults.connection.qos": must be an integer between 0 and 2, got "high".'];
        yield 'memory threshold' => [['memory' => ['threshold_mb' => 'lots']], '"mqtt-broadcast.memory.threshold_mb": must be an integer between 1 and'];
        yield 'queue switch' => [['queue' => ['enabled' => 'perhaps']], '"mqtt-broadcast.queue.enabled": must be a boolean (true/false), got "perhaps".'];
        yield 'logs table' => [['logs' => ['table' => '']], '"mqtt-broadcast.logs.table": must not be empty'];
        yield 'rate limiting strategy' => [['rate_limiting' => ['strategy' => 'drop']], '"mqtt-broadcast.rate_limiting.strategy": must be "reject" or "throttle", got "drop".'];
        yield 'rate limit' => [$connection(['rate_limiting' => ['max_per_second' => 0]]), '"mqtt-broadcast.connections.default.rate_limiting.max_per_second": must be an integer between 1 and'];
        yield 'rate limit key' => [$connection(['rate_limiting' => ['per_second' => 5]]), 'Unknown config key "mqtt-broadcast.connections.default.rate_limiting.per_second".'];
        yield 'queue backoff' => [['queue' => ['backoff' => '1,soon']], '"mqtt-broadcast.queue.backoff": must be seconds: an integer of at least 0, or a list of them, got "1,soon".'];
        yield 'will without topic' => [$connection(['will' => ['payload' => 'offline']]), '"mqtt-broadcast.connections.default.will.topic": is required'];
        yield 'will key' => [$connection(['will' => ['topic' => 't', 'message' => 'offline']]), 'Unknown config key "mqtt-broadcast.connections.default.will.message"'];
        yield 'max_queue' => [$connection(['max_queue' => 0]), '"mqtt-broadcast.connections.default.max_queue": must be an integer between 1 and'];
        yield 'max_failure_duration' => [['supervisor' => ['max_failure_duration' => 'long']] + $connection([]), '"mqtt-broadcast.supervisor.max_failure_duration": must be a number greater than 0, got "long".'];
        yield 'max_inbox' => [['supervisor' => ['max_inbox' => -1]] + $connection([]), '"mqtt-broadcast.supervisor.max_inbox": must be an integer between 1 and'];
    }

    /**
     * @dataProvider badValues
     * @param array<string, mixed> $config
     */
    public function test_bad_values_fail_naming_their_key(array $config, string $message): void
    {
        $this->assertConfigError($config, $message);
    }

    public function test_a_password_never_appears_in_an_error(): void
    {
        $error = $this->configError(['connections' => ['default' => ['host' => 'h', 'auth' => true, 'username' => 'u', 'password' => ['hunter2']]]]);
        self::assertStringContainsString('"mqtt-broadcast.connections.default.password": must be a string, got a array.', $error);
        self::assertStringNotContainsString('hunter2', $error);
    }

    public function test_values_are_accepted_the_way_env_returns_them(): void
    {
        $config = MqttBroadcastConfig::fromArray(['connections' => ['default' => [
            'host' => 'broker', 'port' => '1884', 'qos' => '1', 'retain' => 'true', 'auth' => '',
            'clean_session' => 'false', 'clientId' => 'daemon-1', 'timeout' => '2.5', 'alive_interval' => '30',
            'use_tls' => '0', 'username' => 'ignored without auth',
        ]]]);

        self::assertSame([
            'host' => 'broker',
            'port' => 1884,
            'keep_alive' => 30,
            'connect_timeout' => 2.5,
            'prefix' => '',
            'qos' => 1,
            'retain' => true,
            'reconnect' => ['max_delay' => 60.0, 'max_retries' => 0],
            'client_id' => 'daemon-1',
            'clean_session' => false,
        ], $config->connection('default')->clientOptions(forDaemon: true));
    }

    public function test_the_production_options_reach_the_extension(): void
    {
        $config = MqttBroadcastConfig::fromArray([
            'supervisor' => ['max_inbox' => '50'],
            'connections' => ['default' => [
                'host' => 'h', 'clientId' => 'app-daemon', 'protocol' => '5',
                'max_queue' => '5000', 'max_inflight' => 20, 'flush_timeout' => '2.5', 'session_expiry_interval' => '3600',
                'receive_maximum' => '500',
                'will' => ['topic' => 'app/daemon', 'payload' => 'offline', 'qos' => '1', 'retain' => 'true'],
                'use_tls' => true, 'tls' => ['ca_file' => '/etc/ssl/ca.pem', 'cert_file' => null, 'verify_peer' => 'true', 'server_name' => null],
            ]],
        ]);
        $connection = $config->connection('default');

        $daemon = $connection->clientOptions(true);
        self::assertSame([5000, 20, 2.5], [$daemon['max_queue'], $daemon['max_inflight'], $daemon['flush_timeout']]);
        self::assertSame(['topic' => 'app/daemon', 'payload' => 'offline', 'qos' => 1, 'retain' => true], $daemon['will']);
        self::assertSame(3600, $daemon['session_expiry_interval']);
        self::assertSame(500, $daemon['receive_maximum']);
        self::assertSame(['allow_self_signed' => false, 'ca_file' => '/etc/ssl/ca.pem', 'verify_peer' => true], $daemon['tls'], 'null TLS settings (unset env) are left out');
        self::assertSame(50, $config->maxInbox);
        $publisher = $connection->clientOptions(false);
        self::assertSame(5000, $publisher['max_queue']);
        self::assertArrayNotHasKey('will', $publisher, 'a publishing process going away is no reason for the will');
        self::assertArrayNotHasKey('session_expiry_interval', $publisher);
        self::assertArrayNotHasKey('receive_maximum', $publisher);

        $client = new Client(array_replace($daemon, ['tls' => false, 'host' => '127.0.0.1', 'port' => Broker::freePort()]), $this->uniq());
        $client->close();
    }

    public function test_rate_limits_fall_back_key_by_key_to_defaults_connection(): void
    {
        $config = MqttBroadcastConfig::fromArray([
            'defaults' => ['connection' => ['rate_limiting' => ['max_per_minute' => '600', 'max_per_second' => 20]]],
            'connections' => ['default' => ['host' => 'h', 'rate_limiting' => ['max_per_second' => 5]], 'other' => ['host' => 'h']],
        ]);

        self::assertSame(['max_per_minute' => 600, 'max_per_second' => 5], $config->connection('default')->rateLimits);
        self::assertSame(['max_per_minute' => 600, 'max_per_second' => 20], $config->connection('other')->rateLimits);
        self::assertSame('reject', $config->rateLimiting->strategy);
    }

    public function test_an_environment_naming_an_undefined_connection_fails_where_it_is_used(): void
    {
        // The pure-PHP package's README lists 'production' => ['default', 'backup'] without a backup connection.
        $config = MqttBroadcastConfig::fromArray(['environments' => ['production' => ['default', 'backup']], 'connections' => ['default' => ['host' => 'h']]]);

        self::assertSame('h', $config->connection('default')->host, 'publishing on the defined connection is not affected');
        try {
            $config->connectionsFor('production');
            self::fail('the daemon would start without "backup"');
        } catch (InvalidConfigException $e) {
            self::assertSame('Invalid config "mqtt-broadcast.environments.production.1": names connection "backup", which mqtt-broadcast.connections does not define (defined: default).', $e->getMessage());
        }
        try {
            $config->connection('backup');
            self::fail('published on "backup"');
        } catch (InvalidConfigException $e) {
            self::assertStringEndsWith('connection "backup" is not configured (configured: "default"). It is listed in mqtt-broadcast.environments.production: define it in mqtt-broadcast.connections.', $e->getMessage());
        }

        $daemon = $this->artisan(['mqtt-broadcast', '--environment=readme-example']);
        self::assertSame(1, $daemon->exitCode, $daemon->describe());
        self::assertStringContainsString('"mqtt-broadcast.environments.readme-example.1": names connection "undefined"', $daemon->stdout);
        $test = $this->artisan(['mqtt-broadcast:test'], ['APP_ENV' => 'readme-example']);
        self::assertSame(1, $test->exitCode, $test->describe());
        self::assertStringContainsString('"mqtt-broadcast.environments.readme-example.1": names connection "undefined"', $test->stdout);
    }

    public function test_protocol_5_reaches_the_extension_and_anything_else_is_named(): void
    {
        $v5 = MqttBroadcastConfig::fromArray(['connections' => ['default' => ['host' => 'h', 'protocol' => '5']]]);
        self::assertSame('5', $v5->connection('default')->clientOptions(false)['protocol']);
        $default = MqttBroadcastConfig::fromArray(['connections' => ['default' => ['host' => 'h']]]);
        self::assertArrayNotHasKey('protocol', $default->connection('default')->clientOptions(false), 'MQTT 3.1.1 is the default');
        self::assertStringContainsString(
            '"mqtt-broadcast.connections.default.protocol": must be "3.1.1" or "5"',
            $this->configError(['connections' => ['default' => ['host' => 'h', 'protocol' => '4']]])
        );
    }

    public function test_tls_applies_with_or_without_auth(): void
    {
        $tls = ['use_tls' => true, 'self_signed_allowed' => true, 'tls' => ['server_name' => 'mqtt.example.com']];
        $withoutAuth = MqttBroadcastConfig::fromArray(['connections' => ['default' => ['host' => 'h'] + $tls]]);
        $withAuth = MqttBroadcastConfig::fromArray(['connections' => ['default' => ['host' => 'h', 'auth' => true, 'username' => 'u', 'password' => 'p'] + $tls]]);
        $off = MqttBroadcastConfig::fromArray(['connections' => ['default' => ['host' => 'h', 'use_tls' => false, 'tls' => ['server_name' => 'x']]]]);

        $expected = ['allow_self_signed' => true, 'server_name' => 'mqtt.example.com'];
        self::assertSame($expected, $withoutAuth->connection('default')->clientOptions(false)['tls']);
        self::assertSame($expected, $withAuth->connection('default')->clientOptions(false)['tls']);
        self::assertSame(['u', 'p'], [$withAuth->connection('default')->clientOptions(false)['username'], $withAuth->connection('default')->clientOptions(false)['password']]);
        self::assertArrayNotHasKey('username', $withoutAuth->connection('default')->clientOptions(false), 'credentials only with auth');
        self::assertArrayNotHasKey('tls', $off->connection('default')->clientOptions(false), 'tls goes to the extension only with use_tls');
    }

    public function test_only_the_daemon_connects_with_the_configured_client_id_and_session(): void
    {
        $config = MqttBroadcastConfig::fromArray(['connections' => ['default' => ['host' => 'h', 'clientId' => 'app-daemon', 'clean_session' => false]]]);
        $connection = $config->connection('default');

        self::assertTrue($connection->hasPersistentSession());
        self::assertSame(['app-daemon', false], [$connection->clientOptions(true)['client_id'], $connection->clientOptions(true)['clean_session']]);
        self::assertArrayNotHasKey('client_id', $connection->clientOptions(false), 'publishing processes get a generated id each');
        self::assertArrayNotHasKey('clean_session', $connection->clientOptions(false));
    }

    public function test_an_empty_client_id_lets_an_mqtt_5_broker_assign_one_and_is_no_id_otherwise(): void
    {
        $connection = static fn (array $values) => MqttBroadcastConfig::fromArray(['connections' => ['default' => ['host' => 'h', 'clientId' => ''] + $values]])->connection('default');

        self::assertSame('', $connection(['protocol' => '5'])->clientOptions(true)['client_id'], 'MQTT 5, clean: the broker assigns one');
        self::assertArrayNotHasKey('client_id', $connection(['protocol' => '5'])->clientOptions(false), 'publishing processes get a generated id each');
        foreach ([['protocol' => '3.1.1'], ['protocol' => '5', 'clean_session' => false]] as $values) {
            $options = $connection($values)->clientOptions(true);
            self::assertArrayNotHasKey('client_id', $options, json_encode($values) . ': a generated id');
            self::assertArrayNotHasKey('clean_session', $options, json_encode($values) . ': a clean session');
            self::assertFalse($connection($values)->hasPersistentSession());
        }
    }

    public function test_the_broker_assigned_client_id_of_an_empty_one_shows_in_status(): void
    {
        $config = MqttBroadcastConfig::fromArray(['connections' => ['default' => [
            'host' => static::broker()->host(), 'port' => static::broker()->port(), 'clientId' => '', 'protocol' => '5',
        ]]]);
        $client = new Client($config->connection('default')->clientOptions(true), $this->uniq());
        self::assertTrue($client->waitConnected(10.0), json_encode($client->status()));
        self::assertNotSame('', $client->status()['client_id'], 'the id the broker assigned');
        $client->close();
    }

    public function test_retry_settings_become_the_extensions_reconnect_options(): void
    {
        $config = MqttBroadcastConfig::fromArray([
            'supervisor' => ['max_retries' => 5, 'max_retry_delay' => 10, 'terminate_on_max_retries' => false],
            'connections' => [
                'forever' => ['host' => 'h'],
                'limited' => ['host' => 'h', 'terminate_on_max_retries' => true],
                'own' => ['host' => 'h', 'terminate_on_max_retries' => 'true', 'max_retries' => 2, 'max_retry_delay' => 3],
            ],
        ]);

        self::assertSame(['max_delay' => 10.0, 'max_retries' => 0], $config->connection('forever')->clientOptions(false)['reconnect']);
        self::assertSame(['max_delay' => 10.0, 'max_retries' => 5], $config->connection('limited')->clientOptions(false)['reconnect']);
        self::assertSame(['max_delay' => 3.0, 'max_retries' => 2], $config->connection('own')->clientOptions(false)['reconnect']);
    }

    public function test_the_extension_accepts_the_translated_options(): void
    {
        $config = MqttBroadcastConfig::fromArray(['connections' => ['default' => [
            'host' => '127.0.0.1', 'port' => Broker::freePort(), 'auth' => true, 'username' => 'u', 'password' => 'p',
            'qos' => 2, 'retain' => true, 'prefix' => 'app/', 'clientId' => 'cid-' . bin2hex(random_bytes(4)),
            'clean_session' => false, 'alive_interval' => 30, 'timeout' => 2, 'use_tls' => true, 'self_signed_allowed' => true,
            'terminate_on_max_retries' => true, 'protocol' => '5',
        ]]]);

        foreach ([true, false] as $forDaemon) {
            $client = new Client($config->connection('default')->clientOptions($forDaemon), $this->uniq());
            self::assertSame('app/', $config->connection('default')->prefix);
            $client->close();
        }
    }

    public function test_options_the_extension_rejects_fail_naming_the_connection(): void
    {
        $config = MqttBroadcastConfig::fromArray(['connections' => ['sensors' => [
            'host' => '127.0.0.1', 'use_tls' => true, 'tls' => ['ca_file' => '/nonexistent/ca.pem'],
        ]]]);

        try {
            (new Connections($config))->get('sensors');
            self::fail('the extension accepted a missing CA file');
        } catch (InvalidConfigException $e) {
            self::assertStringStartsWith('Invalid config "mqtt-broadcast.connections.sensors": the mqtt_broadcast extension rejected its options: ', $e->getMessage());
            self::assertStringContainsString('tls.ca_file', $e->getMessage());
            self::assertInstanceOf(\Mqtt\ConfigException::class, $e->getPrevious());
        }
    }

    public function test_a_bad_config_fails_the_facade_and_the_daemon_with_the_key_named(): void
    {
        $this->bootApp(['MQTT_PORT' => 'abc']);
        try {
            MqttBroadcast::publish('a/b', 'x');
            self::fail('publish() accepted port "abc"');
        } catch (InvalidConfigException $e) {
            self::assertStringContainsString('"mqtt-broadcast.connections.default.port": must be an integer between 1 and 65535, got "abc"', $e->getMessage());
        }

        $daemon = $this->artisan(['mqtt-broadcast'], ['MQTT_PORT' => 'abc']);
        self::assertSame(1, $daemon->exitCode, $daemon->describe());
        self::assertStringContainsString('"mqtt-broadcast.connections.default.port": must be an integer between 1 and 65535, got "abc"', $daemon->stdout);
    }

    public function test_the_daemon_names_the_environments_it_knows_when_one_is_not_listed(): void
    {
        $result = $this->artisan(['mqtt-broadcast', '--environment=staging']);

        self::assertSame(1, $result->exitCode, $result->describe());
        self::assertStringContainsString('no connections are listed for environment "staging" (environments listed: "production", "local", "testing", "two-brokers", "readme-example")', $result->stdout);
    }

    public function test_publishing_to_a_connection_that_is_not_configured_names_the_configured_ones(): void
    {
        $this->bootApp();

        $this->expectException(InvalidConfigException::class);
        $this->expectExceptionMessage('connection "nope" is not configured (configured: "default", "backup").');
        MqttBroadcast::publish('a/b', 'x', 'nope');
    }

    /** @param array<string, mixed> $config */
    private function assertConfigError(array $config, string $expected): void
    {
        self::assertStringContainsString($expected, $this->configError($config));
    }

    /** @param array<string, mixed> $config */
    private function configError(array $config): string
    {
        try {
            MqttBroadcastConfig::fromArray($config);
        } catch (InvalidConfigException $e) {
            return $e->getMessage();
        }
        self::fail('accepted: ' . var_export($config, true));
    }
}
