<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Feature;

use Mqtt\ConnectionException;
use MqttBroadcast\Laravel\Facades\MqttBroadcast;
use MqttBroadcast\Laravel\Tests\TestCase;
use MqttBroadcast\Tests\Support\Certificates;
use MqttBroadcast\Tests\Support\SecureBroker;

/**
 * use_tls against a real mosquitto TLS listener, without auth (the pure-PHP
 * package applied TLS only together with auth); an independent subscriber on
 * the broker's plain listener sees what arrived.
 */
final class TlsTest extends TestCase
{
    public function test_self_signed_allowed_reaches_a_broker_with_a_self_signed_certificate(): void
    {
        $secure = SecureBroker::tls(Certificates::shared()->selfSignedServer(), Certificates::shared()->ca());

        $this->assertPublishesOverTls($secure, ['MQTT_SELF_SIGNED_ALLOWED' => 'true']);
    }

    public function test_a_private_ca_is_trusted_through_the_tls_array(): void
    {
        $secure = SecureBroker::tls(Certificates::shared()->server(), Certificates::shared()->ca());

        $this->assertPublishesOverTls($secure, ['MQTT_SELF_SIGNED_ALLOWED' => 'false'], ['ca_file' => Certificates::shared()->ca()]);
    }

    public function test_without_self_signed_allowed_a_self_signed_certificate_is_refused(): void
    {
        $secure = SecureBroker::tls(Certificates::shared()->selfSignedServer(), Certificates::shared()->ca());
        // Failing for good after one retry keeps close() from waiting flush_timeout for the message.
        $this->bootTlsApp($secure, ['MQTT_SELF_SIGNED_ALLOWED' => 'false', 'MQTT_TERMINATE_ON_MAX_RETRIES' => 'true', 'MQTT_MAX_RETRIES' => '1']);

        try {
            MqttBroadcast::publishSync($this->topic('refused'), 'x', qos: 1, timeout: 10.0);
            self::fail('published to a broker with a self-signed certificate');
        } catch (ConnectionException $e) {
            self::assertStringContainsString('unknown CA', $e->getMessage());
        } finally {
            MqttBroadcast::connection()->close();
        }
    }

    /**
     * @param array<string, string> $env
     * @param array<string, mixed> $tls the connection's tls array
     */
    private function assertPublishesOverTls(SecureBroker $secure, array $env, array $tls = []): void
    {
        $listener = $this->listen($this->topic('#'), $secure->broker());
        $this->bootTlsApp($secure, $env, $tls);

        MqttBroadcast::publishSync($this->topic('secure'), 'over tls', qos: 1, timeout: 10.0);

        self::assertSame([[$this->topic('secure'), 'over tls']], $listener->waitFor(1));
        self::assertSame($secure->tlsPort(), MqttBroadcast::connection()->status()['port']);
        MqttBroadcast::connection()->close();
    }

    /**
     * @param array<string, string> $env
     * @param array<string, mixed> $tls
     */
    private function bootTlsApp(SecureBroker $secure, array $env, array $tls = []): void
    {
        $app = $this->bootApp(['MQTT_PORT' => (string) $secure->tlsPort(), 'MQTT_USE_TLS' => 'true', 'MQTT_AUTH' => 'false'] + $env);
        $app['config']->set('mqtt-broadcast.connections.default.tls', $tls);
    }
}
