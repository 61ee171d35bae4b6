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
    private const KEYS = ['connections', 'environments', 'defaults', 'logs', 'memory', 'supervisor', 'queue'];

    /** Top-level keys of the pure-PHP package that have no meaning here (its dashboard, repositories, rate limiter). */
    private const IGNORED_KEYS = [
        'password', 'master_supervisor', 'reconnection', 'repository', 'rate_limiting', 'failed_jobs',
        'path', 'domain', 'middleware', 'dashboard',
    ];

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
    ) {
    }

    public static function fromArray(mixed $config, string $path = 'mqtt-broadcast'): self
    {
        $root = Section::of($config, $path, self::KEYS, self::IGNORED_KEYS);
        $defaults = $root->section('defaults', ['connection'])
            ->section('connection', ConnectionConfig::KEYS, ConnectionConfig::IGNORED_KEYS);
        $supervisor = $root->section('supervisor', ['max_retries', 'max_retry_delay', 'terminate_on_max_retries'], ['heartbeat_interval']);

        $connections = [];
        foreach ($root->array('connections') as $name => $values) {
            $connection = Section::of($values, $root->key("connections.$name"), ConnectionConfig::KEYS, ConnectionConfig::IGNORED_KEYS);
            $connections[(string) $name] = ConnectionConfig::read((string) $name, $connection, $defaults, $supervisor);
        }

        return new self(
            connections: $connections,
            environments: self::environments($root, $connections),
            logs: LogsConfig::read($root->section('logs', ['enable', 'connection', 'table'], ['queue'])),
            memory: MemoryConfig::read($root->section('memory', ['gc_interval', 'threshold_mb', 'auto_restart', 'restart_delay_seconds'])),
            queue: QueueConfig::read($root->section('queue', ['enabled', 'name', 'connection'], ['listener'])),
        );
    }

    public function connection(string $name): ConnectionConfig
    {
        return $this->connections[$name] ?? throw InvalidConfigException::because(
            "mqtt-broadcast.connections.$name",
            sprintf('connection "%s" is not configured (configured: %s).', $name, $this->names(array_keys($this->connections)))
        );
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
        return array_map(fn (string $name) => $this->connections[$name], $names);
    }

    /**
     * @param array<string, ConnectionConfig> $connections
     * @return array<string, list<string>>
     */
    private static function environments(Section $root, array $connections): array
    {
        $environments = [];
        $section = Section::of($root->array('environments'), $root->key('environments'), array_keys($root->array('environments')));
        foreach (array_keys($root->array('environments')) as $environment) {
            $key = $section->key((string) $environment);
            $list = $section->stringList((string) $environment, []);
            foreach ($list as $index => $name) {
                if (!isset($connections[$name])) {
                    throw InvalidConfigException::because("$key.$index", sprintf(
                        'names connection "%s", which mqtt-broadcast.connections does not define (defined: %s).',
                        $name,
                        implode(', ', array_keys($connections)) ?: 'none'
                    ));
                }
            }
            $environments[(string) $environment] = array_values(array_unique($list));
        }
        return $environments;
    }

    /** @param list<string|int> $names */
    private function names(array $names): string
    {
        return $names === [] ? 'none' : '"' . implode('", "', $names) . '"';
    }
}
