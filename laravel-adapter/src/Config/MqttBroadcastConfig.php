<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Config;

use MqttBroadcast\Laravel\Exceptions\InvalidConfigException;

/**
 * The whole `mqtt-broadcast` config, read once and validated: a bad key or value
 * fails here, with a message naming it, rather than somewhere later.
 */
final class MqttBroadcastConfig
{
    /** path, domain, middleware and metrics are the endpoints', read where their routes are registered. */
    private const KEYS = [
        'connections', 'environments', 'defaults', 'logs', 'memory', 'supervisor', 'queue', 'rate_limiting', 'failed_jobs',
        'path', 'domain', 'middleware', 'metrics', 'broker',
    ];

    /** Top-level keys of the pure-PHP package that have no meaning here (its dashboard and its process repositories). */
    private const IGNORED_KEYS = ['password', 'master_supervisor', 'reconnection', 'repository', 'dashboard'];

    /**
     * @param array<string, ConnectionConfig> $connections by name
     * @param array<string, list<string>> $environments connection names by environment
     */
    private function __construct(
        public readonly array $connections,
        public readonly array $environments,
        public readonly LogsConfig $logs,
        public readonly MemoryConfig $memory,
        public readonly QueueConfig $queue,
        public readonly RateLimitingConfig $rateLimiting,
        public readonly FailedJobsConfig $failedJobs,
        /** received messages waiting in the daemon before its connections stop reading (the Subscriber's max_inbox) */
        public readonly int $maxInbox,
        public readonly BrokerConfig $broker,
    ) {
    }

    /**
     * @param string|null $environment the application's: in "local", a connection without a host
     *   connects to the built-in broker (`broker`)
     */
    public static function fromArray(mixed $config, string $path = 'mqtt-broadcast', ?string $environment = null): self
    {
        $root = Section::of($config, $path, self::KEYS, self::IGNORED_KEYS);
        $broker = BrokerConfig::read($root->section('broker', BrokerConfig::KEYS));
        $builtInBroker = $environment === 'local' ? $broker->clientAddress() : null;
        $defaults = $root->section('defaults', ['connection'])
            ->section('connection', ConnectionConfig::KEYS);
        $supervisor = $root->section(
            'supervisor',
            ['max_retries', 'max_retry_delay', 'terminate_on_max_retries', 'max_failure_duration', 'max_inbox'],
            ['heartbeat_interval']
        );

        $connections = [];
        foreach ($root->array('connections') as $name => $values) {
            $connection = Section::of($values, $root->key("connections.$name"), ConnectionConfig::KEYS);
            $connections[(string) $name] = ConnectionConfig::read((string) $name, $connection, $defaults, $supervisor, $builtInBroker);
        }

        return new self(
            connections: $connections,
            environments: self::environments($root),
            logs: LogsConfig::read($root->section('logs', ['enable', 'connection', 'table', 'prune_after_days'], ['queue'])),
            memory: MemoryConfig::read($root->section('memory', ['gc_interval', 'threshold_mb', 'auto_restart', 'restart_delay_seconds'])),
            queue: QueueConfig::read($root->section('queue', ['enabled', 'name', 'connection', 'tries', 'backoff'], ['listener'])),
            rateLimiting: RateLimitingConfig::read($root->section('rate_limiting', ['enabled', 'strategy', 'by_connection', 'cache_driver'])),
            failedJobs: FailedJobsConfig::read($root->section('failed_jobs', ['connection', 'table'])),
            maxInbox: $supervisor->int('max_inbox', 1000, 1, PHP_INT_MAX),
            broker: $broker,
        );
    }

    public function connection(string $name): ConnectionConfig
    {
        return $this->connections[$name] ?? throw InvalidConfigException::because(
            "mqtt-broadcast.connections.$name",
            sprintf('connection "%s" is not configured (configured: %s).%s', $name, $this->names(array_keys($this->connections)), $this->listedIn($name))
        );
    }

    /**
     * The connection mqttMessage() and mqttMessageSync() use when not told:
     * "local" where one is configured, as in the pure-PHP package, else "default".
     */
    public function helperConnection(): string
    {
        return isset($this->connections['local']) ? 'local' : 'default';
    }

    /** @return list<ConnectionConfig> the connections the daemon of $environment listens on */
    public function connectionsFor(string $environment): array
    {
        $names = $this->environments[$environment] ?? throw InvalidConfigException::because(
            "mqtt-broadcast.environments.$environment",
            sprintf(
                'no connections are listed for environment "%s" (environments listed: %s). Add "%s" => [\'default\'] to mqtt-broadcast.environments or pass --environment.',
                $environment,
                $this->names(array_keys($this->environments)),
                $environment
            )
        );
        if ($names === []) {
            throw InvalidConfigException::because("mqtt-broadcast.environments.$environment", 'lists no connections.');
        }
        foreach ($names as $index => $name) {
            if (!isset($this->connections[$name])) {
                throw InvalidConfigException::because("mqtt-broadcast.environments.$environment.$index", sprintf(
                    'names connection "%s", which mqtt-broadcast.connections does not define (defined: %s).',
                    $name,
                    implode(', ', array_keys($this->connections)) ?: 'none'
                ));
            }
        }
        return array_map(fn (string $name) => $this->connections[$name], $names);
    }

    /**
     * Environments are checked when one is used (the daemon, mqtt-broadcast:test),
     * not here: the pure-PHP package's own example lists a "backup" connection
     * it does not define, and that must not fail every publish of the application.
     *
     * @return array<string, list<string>>
     */
    private static function environments(Section $root): array
    {
        $environments = [];
        $section = Section::of($root->array('environments'), $root->key('environments'), array_keys($root->array('environments')));
        foreach (array_keys($root->array('environments')) as $environment) {
            $environments[(string) $environment] = array_values(array_unique($section->stringList((string) $environment, [])));
        }
        return $environments;
    }

    /** " It is listed in mqtt-broadcast.environments.production." for a name environments list but connections lack. */
    private function listedIn(string $name): string
    {
        $keys = [];
        foreach ($this->environments as $environment => $names) {
            if (in_array($name, $names, true)) {
                $keys[] = "mqtt-broadcast.environments.$environment";
            }
        }
        return $keys === [] ? '' : ' It is listed in ' . implode(', ', $keys) . ': define it in mqtt-broadcast.connections.';
    }

    /** @param list<string|int> $names */
    private function names(array $names): string
    {
        return $names === [] ? 'none' : '"' . implode('", "', $names) . '"';
    }
}
