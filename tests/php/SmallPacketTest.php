<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\ConfigException;
use Mqtt\Subscriber;
use MqttBroadcast\Tests\Support\BackgroundProcess;
use MqttBroadcast\Tests\Support\MqttTestCase;

/**
 * max_packet_size below 1024 against a real mosquitto: a larger publish throws
 * before anything is sent, and (MQTT 5, which says the limit in CONNECT) the
 * broker sends no larger message, so the connection stays up and smaller
 * messages keep arriving.
 */
final class SmallPacketTest extends MqttTestCase
{
    private const WAIT = 10.0;
    private const LIMIT = 200;

    public function testAConnectionWorksWithPacketsOfAtMost200Bytes(): void
    {
        $topic = $this->topic('small');
        $client = $this->client($this->options(['protocol' => '5', 'max_packet_size' => self::LIMIT, 'qos' => 1]));
        $subscriber = new Subscriber([$client]);
        $subscriber->subscribe($topic, 1, self::WAIT);

        $client->publishSync($topic, str_repeat('a', 100), 1, false, self::WAIT);
        try {
            $client->publish($topic, str_repeat('b', 300));
            $this->fail('a 300-byte payload went out under max_packet_size 200');
        } catch (\ValueError $e) {
            $this->assertStringContainsString('larger than the max_packet_size option', $e->getMessage());
        }
        // From another client: the broker must not send us the larger one.
        $this->mosquittoPub($topic, str_repeat('c', 500));
        $this->mosquittoPub($topic, 'small again');

        $received = array_map(static fn ($m) => $m->payload, $this->collect($subscriber, 2, 'the small messages'));
        $this->assertSame([str_repeat('a', 100), 'small again'], $received);
        $this->assertNull($subscriber->next(0.5), 'nothing else arrived');
        $status = $client->status();
        $this->assertTrue($status['connected']);
        $this->assertSame(0, $status['reconnects'], 'the larger message did not break the connection');
    }

    public function testTheLimitIsAtLeast128Bytes(): void
    {
        try {
            $this->client($this->options(['max_packet_size' => 127]));
            $this->fail('max_packet_size 127 accepted');
        } catch (ConfigException $e) {
            $this->assertSame('option "max_packet_size" must be an integer between 128 and 268435455 (bytes), got 127', $e->getMessage());
        }
        $client = $this->client($this->options(['protocol' => '5', 'client_id' => '', 'max_packet_size' => 128]));
        $this->assertTrue($client->waitConnected(self::WAIT), 'the CONNACK with an assigned client id fits: ' . json_encode($client->status()));
    }

    private function mosquittoPub(string $topic, string $payload): void
    {
        $broker = self::broker();
        $out = tempnam(sys_get_temp_dir(), 'mqtt-broadcast-small-');
        $pub = new BackgroundProcess(['mosquitto_pub', '-V', 'mqttv5', '-h', $broker->host(), '-p', (string) $broker->port(), '-q', '1',
            '-t', $topic, '-m', $payload], $out, $out);
        $this->assertTrue($pub->wait(self::WAIT), (string) file_get_contents($out));
        @unlink($out);
    }
}
