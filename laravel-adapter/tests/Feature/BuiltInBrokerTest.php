<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Feature;

use Mqtt\Client;
use Mqtt\Subscriber;
use MqttBroadcast\Laravel\Config\MqttBroadcastConfig;
use MqttBroadcast\Laravel\Exceptions\InvalidConfigException;
use MqttBroadcast\Laravel\Facades\MqttBroadcast;
use MqttBroadcast\Laravel\Tests\TestCase;
use MqttBroadcast\Tests\Support\BackgroundProcess;
use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\PhpScript;

/**
 * The `broker` section of the config, which php artisan mqtt-broadcast:broker
 * runs the extension's built-in broker with, and the connections that go to
 * that broker in the local environment when no host is configured.
 */
final class BuiltInBrokerTest extends TestCase
{
    private const PACKAGE_CONFIG = __DIR__ . '/../../config/mqtt-broadcast.php';

    public function test_a_connection_without_a_host_uses_the_built_in_broker_in_local_only(): void
    {
        $local = MqttBroadcastConfig::fromArray(require self::PACKAGE_CONFIG, environment: 'local')->connection('default');
        self::assertSame(['127.0.0.1', 1883], [$local->host, $local->port]);

        $elsewhere = [
            'broker' => ['listen' => '0.0.0.0:1884'],
            'connections' => ['default' => [], 'remote' => ['host' => 'mqtt.example.com']],
        ];
        $config = MqttBroadcastConfig::fromArray($elsewhere, environment: 'local');
        self::assertSame(['127.0.0.1', 1884], [$config->connection('default')->host, $config->connection('default')->port], 'a wildcard listen address is reached on loopback');
        self::assertSame(['mqtt.example.com', 1883], [$config->connection('remote')->host, $config->connection('remote')->port], 'a configured host is kept');

        try {
            MqttBroadcastConfig::fromArray($elsewhere, environment: 'production');
            self::fail('a connection without a host outside local');
        } catch (InvalidConfigException $e) {
            self::assertStringContainsString('mqtt-broadcast.connections.default.host', $e->getMessage());
            self::assertStringContainsString('only in the local environment', $e->getMessage());
        }
    }

    public function test_the_broker_section_reaches_the_broker_and_local_connections_publish_to_it(): void
    {
        $port = Broker::freePort();
        $log = "{$this->appDir}/broker.log";
        $env = ['APP_ENV' => 'local', 'MQTT_BROKER_LISTEN' => "127.0.0.1:$port", 'MQTT_BROKER_LOG' => $log];
        $out = "{$this->appDir}/broker.out";
        $command = new BackgroundProcess(
            [PHP_BINARY, '-d', 'extension=' . PhpScript::extensionPath(), self::ARTISAN, 'mqtt-broadcast:broker'],
            $out,
            $out,
            array_merge(getenv(), $this->appEnv($env))
        );
        $output = static fn (): string => (string) @file_get_contents($out);
        try {
            $deadline = microtime(true) + 20;
            while (!str_contains($output(), "mqtt://127.0.0.1:$port")) {
                if (!$command->isRunning() || microtime(true) >= $deadline) {
                    self::fail("the command did not say it listens on $port:\n" . $output());
                }
                usleep(20_000);
            }

            $subscriber = new Subscriber([new Client(['host' => '127.0.0.1', 'port' => $port], 'built-in-broker-sub')]);
            $subscriber->subscribe($this->topic('#'), 1, 10.0);

            $this->bootApp($env);
            // A connection without a host, as the package's config file has it without MQTT_HOST.
            config(['mqtt-broadcast.connections.default.host' => null, 'mqtt-broadcast.connections.default.port' => null]);
            MqttBroadcast::publishSync($this->topic('orders'), 'to the built-in broker', qos: 1, timeout: 10.0);

            $message = $subscriber->next(10.0);
            self::assertSame([$this->topic('orders'), 'to the built-in broker'], [$message?->topic, $message?->payload], $output());
            self::assertMatchesRegularExpression(
                '/ subscribed \S+ to ' . preg_quote($this->topic('#'), '/') . ' at QoS 1$/m',
                (string) @file_get_contents($log),
                'the broker writes the log the section names'
            );

            $command->terminate();
            self::assertSame(0, $command->exitCode(), $output());
            self::assertStringContainsString('MQTT broker stopped.', $output());
        } finally {
            $command->kill();
        }
    }

    public function test_a_bad_broker_option_is_named_and_nothing_listens(): void
    {
        $port = Broker::freePort();
        $result = $this->artisan(['mqtt-broadcast:broker'], ['MQTT_BROKER_LISTEN' => "127.0.0.1:$port", 'MQTT_BROKER_MAX_PACKET_SIZE' => '10']);

        self::assertSame(1, $result->exitCode, $result->describe());
        self::assertStringContainsString('max_packet_size', $result->stdout . $result->stderr);
        self::assertFalse(Broker::portAccepts($port));
    }
}
