<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Config;

use MqttBroadcast\Laravel\Exceptions\InvalidConfigException;

/**
 * One entry of `mqtt-broadcast.connections`, validated, and translated into the
 * options of the extension's Mqtt\Client.
 */
final class ConnectionConfig
{
    /** Keys a connection may set; `defaults.connection` may set the same ones. */
    public const KEYS = [
        'host', 'port', 'auth', 'username', 'password', 'qos', 'retain', 'prefix', 'clientId',
        'alive_interval', 'timeout', 'use_tls', 'self_signed_allowed', 'tls', 'clean_session', 'topics',
        'max_retries', 'max_retry_delay', 'terminate_on_max_retries', 'max_failure_duration', 'protocol',
        'max_queue', 'max_inflight', 'flush_timeout', 'will', 'session_expiry_interval', 'receive_maximum',
        'rate_limiting',
    ];

    /** MQTT versions the extension speaks. */
    private const PROTOCOLS = ['3.1.1', '5'];

    /** Keys of the extension's `tls` option a connection's `tls` array may add. */
    private const TLS_KEYS = ['ca_file', 'cert_file', 'key_file', 'verify_peer', 'allow_self_signed', 'server_name', 'alpn'];

    /**
     * @param list<string> $topics filters the daemon subscribes to, below the prefix
     * @param array<string, mixed> $tls extra options of the extension's `tls` option
     * @param array<string, mixed>|null $will the extension's `will` option, for the daemon's connection
     * @param array{max_per_minute: ?int, max_per_second: ?int} $rateLimits publishes allowed per window, null: unlimited
     */
    private function __construct(
        public readonly string $name,
        public readonly string $host,
        public readonly int $port,
        public readonly ?string $username,
        public readonly ?string $password,
        public readonly int $qos,
        public readonly bool $retain,
        public readonly string $prefix,
        public readonly ?string $clientId,
        public readonly int $aliveInterval,
        public readonly float $timeout,
        public readonly bool $useTls,
        public readonly bool $selfSignedAllowed,
        public readonly array $tls,
        public readonly bool $cleanSession,
        public readonly array $topics,
        public readonly int $maxRetries,
        public readonly float $maxRetryDelay,
        public readonly bool $terminateOnMaxRetries,
        /** seconds without a connection after which the daemon stops (exit code 3); null: never */
        public readonly ?float $maxFailureDuration,
        public readonly string $protocol,
        public readonly ?int $maxQueue,
        public readonly ?int $maxInflight,
        public readonly ?float $flushTimeout,
        public readonly ?array $will,
        public readonly ?int $sessionExpiryInterval,
        public readonly ?int $receiveMaximum,
        public readonly array $rateLimits,
    ) {
    }

    /**
     * @param Section $connection `connections.{name}`
     * @param Section $defaults `defaults.connection`
     * @param Section $supervisor `supervisor`, the fallback of the retry settings
     * @param array{0: string, 1: int}|null $builtInBroker host and port of the built-in broker, for a connection without a host
     */
    public static function read(string $name, Section $connection, Section $defaults, Section $supervisor, ?array $builtInBroker = null): self
    {
        $at = static fn (string $key, Section ...$more): Section => Section::firstSetting($key, $connection, $defaults, ...$more);

        $host = $at('host')->nonEmptyString('host', null);
        $builtInPort = null;
        if ($host === null) {
            [$host, $builtInPort] = $builtInBroker ?? throw InvalidConfigException::because(
                $connection->key('host'),
                'is required: the broker host name or address (only in the local environment does a connection without one use the built-in broker).'
            );
        }
        $auth = $at('auth')->bool('auth', false);
        $username = $auth ? $at('username')->nonEmptyString('username', null) : null;
        if ($auth && $username === null) {
            throw InvalidConfigException::because($connection->key('username'), 'is required when auth is true.');
        }
        $protocol = $at('protocol')->string('protocol', '3.1.1');
        if (!in_array($protocol, self::PROTOCOLS, true)) {
            throw InvalidConfigException::invalidValue($at('protocol')->key('protocol'), 'must be "3.1.1" or "5"', $at('protocol')->raw('protocol'));
        }
        $will = $at('will')->has('will') ? $at('will')->section('will', ['topic', 'payload', 'qos', 'retain']) : null;
        if ($will !== null && !$will->has('topic')) {
            throw InvalidConfigException::because($will->key('topic'), 'is required: the topic the broker publishes the will to.');
        }
        $tls = self::tls($at('tls')->section('tls', self::TLS_KEYS));

        return new self(
            name: $name,
            host: $host,
            port: $at('port')->int('port', $builtInPort ?? 1883, 1, 65535),
            username: $username,
            password: $auth ? $at('password')->nullableString('password') : null,
            qos: $at('qos')->int('qos', 0, 0, 2),
            retain: $at('retain')->bool('retain', false),
            prefix: $at('prefix')->string('prefix', ''),
            clientId: $at('clientId')->nullableString('clientId'),
            aliveInterval: $at('alive_interval')->int('alive_interval', 60, 0, 65535),
            timeout: $at('timeout')->number('timeout', 3.0, true),
            useTls: $at('use_tls')->bool('use_tls', false),
            selfSignedAllowed: $at('self_signed_allowed')->bool('self_signed_allowed', false),
            tls: $tls,
            cleanSession: $at('clean_session')->bool('clean_session', true),
            topics: $at('topics')->stringList('topics', ['#']),
            maxRetries: $at('max_retries', $supervisor)->int('max_retries', 20, 1, PHP_INT_MAX),
            maxRetryDelay: self::retryDelay($at('max_retry_delay', $supervisor)),
            terminateOnMaxRetries: $at('terminate_on_max_retries', $supervisor)->bool('terminate_on_max_retries', false),
            maxFailureDuration: $at('max_failure_duration', $supervisor)->has('max_failure_duration')
                ? $at('max_failure_duration', $supervisor)->number('max_failure_duration', 0.0, true)
                : null,
            protocol: $protocol,
            maxQueue: $at('max_queue')->has('max_queue') ? $at('max_queue')->int('max_queue', 0, 1, PHP_INT_MAX) : null,
            maxInflight: $at('max_inflight')->has('max_inflight') ? $at('max_inflight')->int('max_inflight', 0, 1, 65535) : null,
            flushTimeout: $at('flush_timeout')->has('flush_timeout') ? $at('flush_timeout')->number('flush_timeout', 0.0, true) : null,
            will: $will === null ? null : array_filter([
                'topic' => $will->nonEmptyString('topic', null),
                'payload' => $will->nullableString('payload'),
                'qos' => $will->has('qos') ? $will->int('qos', 0, 0, 2) : null,
                'retain' => $will->has('retain') ? $will->bool('retain', false) : null,
            ], static fn ($value) => $value !== null),
            sessionExpiryInterval: $at('session_expiry_interval')->has('session_expiry_interval')
                ? $at('session_expiry_interval')->int('session_expiry_interval', 0, 0, 4294967295)
                : null,
            receiveMaximum: $at('receive_maximum')->has('receive_maximum')
                ? $at('receive_maximum')->int('receive_maximum', 0, 1, 65535)
                : null,
            rateLimits: self::rateLimits($connection, $defaults),
        );
    }

    /**
     * A persistent session (clean_session false) is kept per client id, so it
     * only exists for a connection with a fixed clientId. The pure-PHP package
     * shipped clean_session false without a clientId and in effect got a new
     * session on every start; this package does the same, with a clean one.
     * An empty clientId (`MQTT_CLIENT_ID=` in .env) is no client id.
     */
    public function hasPersistentSession(): bool
    {
        return !$this->cleanSession && $this->hasFixedClientId();
    }

    private function hasFixedClientId(): bool
    {
        return $this->clientId !== null && $this->clientId !== '';
    }

    /**
     * Options of the extension's Mqtt\Client.
     *
     * The daemon connects with the configured clientId and session; every other
     * process (PHP-FPM workers, queue workers) only publishes and leaves the client
     * id to the extension, which makes it unique per process: processes sharing
     * an id would knock each other off the broker.
     *
     * @return array<string, mixed>
     */
    public function clientOptions(bool $forDaemon): array
    {
        $options = [
            'host' => $this->host,
            'port' => $this->port,
            'keep_alive' => $this->aliveInterval,
            'connect_timeout' => $this->timeout,
            'prefix' => $this->prefix,
            'qos' => $this->qos,
            'retain' => $this->retain,
            'reconnect' => [
                'max_delay' => $this->maxRetryDelay,
                // 0 retries forever; a limited number makes the connection fail for good.
                'max_retries' => $this->terminateOnMaxRetries ? $this->maxRetries : 0,
            ],
        ];
        if ($this->protocol !== '3.1.1') {
            $options['protocol'] = $this->protocol;
        }
        foreach (['max_queue' => $this->maxQueue, 'max_inflight' => $this->maxInflight, 'flush_timeout' => $this->flushTimeout] as $option => $value) {
            if ($value !== null) {
                $options[$option] = $value;
            }
        }
        if ($this->username !== null) {
            $options['username'] = $this->username;
            if ($this->password !== null) {
                $options['password'] = $this->password;
            }
        }
        if ($this->useTls) {
            // Needs an extension build with TLS support (the `tls` option);
            // an older build rejects it with a ConfigException naming "tls".
            $options['tls'] = array_replace(['allow_self_signed' => $this->selfSignedAllowed], $this->tls);
        }
        if ($forDaemon && $this->hasFixedClientId()) {
            $options['client_id'] = $this->clientId;
            $options['clean_session'] = $this->cleanSession;
        } elseif ($forDaemon && $this->clientId === '' && $this->protocol === '5' && $this->cleanSession) {
            // MQTT 5: the broker assigns one, shown in status()['client_id'].
            $options['client_id'] = '';
        }
        // The will, the session's expiry and the receive window belong to the
        // daemon's connection:
        // publishing processes come and go with PHP-FPM workers, and each would
        // fire the will when it went away.
        if ($forDaemon && $this->will !== null) {
            $options['will'] = $this->will;
        }
        if ($forDaemon && $this->sessionExpiryInterval !== null) {
            $options['session_expiry_interval'] = $this->sessionExpiryInterval;
        }
        if ($forDaemon && $this->receiveMaximum !== null) {
            $options['receive_maximum'] = $this->receiveMaximum;
        }
        return $options;
    }

    /** Where the daemon reports this connection to: "host:port". */
    public function address(): string
    {
        return ($this->useTls ? 'mqtts://' : 'mqtt://') . $this->host . ':' . $this->port;
    }

    /**
     * The `tls` array, null values left out (env() of an unset variable), as the extension's `tls` option wants it.
     *
     * @return array<string, mixed>
     */
    private static function tls(Section $tls): array
    {
        $options = [];
        foreach (self::TLS_KEYS as $key) {
            if ($tls->has($key)) {
                $options[$key] = match ($key) {
                    'verify_peer', 'allow_self_signed' => $tls->bool($key, true),
                    'alpn' => $tls->stringList($key, []),
                    default => $tls->nonEmptyString($key, null),
                };
            }
        }
        return $options;
    }

    /**
     * `rate_limiting` of the connection, key by key falling back to `defaults.connection.rate_limiting`.
     *
     * @return array{max_per_minute: ?int, max_per_second: ?int}
     */
    private static function rateLimits(Section $connection, Section $defaults): array
    {
        $keys = ['max_per_minute', 'max_per_second'];
        $own = $connection->section('rate_limiting', $keys);
        $fallback = $defaults->section('rate_limiting', $keys);
        $limits = [];
        foreach ($keys as $key) {
            $section = Section::firstSetting($key, $own, $fallback);
            $limits[$key] = $section->has($key) ? $section->int($key, 0, 1, PHP_INT_MAX) : null;
        }
        return $limits;
    }

    private static function retryDelay(Section $section): float
    {
        $delay = $section->number('max_retry_delay', 60.0, true);
        if ($delay < 1.0) {
            throw InvalidConfigException::invalidValue($section->key('max_retry_delay'), 'must be at least 1 (seconds)', $section->raw('max_retry_delay'));
        }
        return $delay;
    }
}
