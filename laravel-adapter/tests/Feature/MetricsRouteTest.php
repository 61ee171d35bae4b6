<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Feature;

use Illuminate\Contracts\Http\Kernel;
use Illuminate\Foundation\Application;
use Illuminate\Http\Request;
use MqttBroadcast\Laravel\Facades\MqttBroadcast;
use MqttBroadcast\Laravel\Tests\TestCase;
use Symfony\Component\HttpFoundation\Response;

/**
 * The opt-in metrics endpoint: Mqtt\Client::metrics() at /{path}/metrics, off
 * unless mqtt-broadcast.metrics is set, behind the health endpoint's middleware.
 */
final class MetricsRouteTest extends TestCase
{
    public function test_off_unless_enabled(): void
    {
        $app = $this->bootApp(['APP_ENV' => 'local']);

        $response = $this->get($app, '/mqtt-broadcast/metrics');
        self::assertSame(404, $response->getStatusCode());
    }

    public function test_the_pools_counters_in_the_prometheus_text_format(): void
    {
        $app = $this->bootApp(['APP_ENV' => 'local', 'MQTT_BROADCAST_METRICS' => 'true', 'MQTT_PREFIX' => $this->topic('m') . '/']);
        $before = self::published($this->get($app, '/mqtt-broadcast/metrics'));

        MqttBroadcast::publish('counted', 'x');
        MqttBroadcast::publish('counted', 'y');
        self::assertTrue(MqttBroadcast::connection()->flush(5.0));

        $response = $this->get($app, '/mqtt-broadcast/metrics');
        self::assertSame(200, $response->getStatusCode(), (string) $response->getContent());
        self::assertStringStartsWith('text/plain; version=0.0.4', (string) $response->headers->get('Content-Type'));
        self::assertStringContainsString('# TYPE mqtt_broadcast_published_total counter', (string) $response->getContent());
        self::assertSame($before + 2, self::published($response));
    }

    public function test_outside_the_local_environment_it_takes_the_view_gate(): void
    {
        $app = $this->bootApp(['APP_ENV' => 'production', 'MQTT_BROADCAST_METRICS' => 'true']);

        self::assertSame(403, $this->get($app, '/mqtt-broadcast/metrics')->getStatusCode());
    }

    /** Messages published on the connection named "default", all QoS. */
    private static function published(Response $response): int
    {
        preg_match_all('/^mqtt_broadcast_published_total\{connection="default",qos="\d"\} (\d+)$/m', (string) $response->getContent(), $values);
        return array_sum(array_map('intval', $values[1]));
    }

    private function get(Application $app, string $uri): Response
    {
        return $app->make(Kernel::class)->handle(Request::create($uri));
    }
}
