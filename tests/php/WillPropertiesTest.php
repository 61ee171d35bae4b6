<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\Client;
use Mqtt\ConfigException;
use MqttBroadcast\Tests\Support\Mqtt5Listener;
use MqttBroadcast\Tests\Support\MqttTestCase;
use MqttBroadcast\Tests\Support\PhpChild;

/**
 * MQTT 5 will properties against a real mosquitto: will.delay_interval holds the
 * will back, and a quick reconnect to the session cancels it; will.properties
 * arrive with the will at an independent MQTT 5 subscriber.
 */
final class WillPropertiesTest extends MqttTestCase
{
    private const DELAY = 3;

    /** @var list<Mqtt5Listener> */
    private array $listeners5 = [];

    protected function tearDown(): void
    {
        parent::tearDown();
        foreach ($this->listeners5 as $listener) {
            $listener->stop();
        }
        $this->listeners5 = [];
    }

    public function testADelayedWillComesLateWithItsProperties(): void
    {
        $prefix = 'test/' . $this->uniq() . '/';
        $listener = $this->listen5($prefix . '#');
        $options = $this->willOptions($prefix, [
            'user_properties' => [['reason', 'killed'], ['host', 'web-1']],
            'content_type' => 'text/plain',
            'message_expiry_interval' => 600,
            'response_topic' => 'status/ask',
            'correlation_data' => "\x01will",
        ]);
        $holder = $this->holder($options);

        $holder->kill();
        $killed = microtime(true);
        $will = $listener->waitFor(1, 20.0)[0];
        $waited = microtime(true) - $killed;
        // Mosquitto keeps will delays on a clock of whole seconds: 2.1 sent the
        // will of a 2-second delay 1.1 s after the kill.
        $this->assertGreaterThanOrEqual(self::DELAY - 1, $waited, 'the broker held the will back for will.delay_interval');
        $this->assertSame($prefix . 'status', $will['topic']);
        $this->assertSame('offline', $will['payload']);
        $this->assertSame(Mqtt5Listener::printedUserProperties([['reason', 'killed'], ['host', 'web-1']]), $will['user_properties']);
        $this->assertSame('text/plain', $will['content_type']);
        $this->assertSame($prefix . 'status/ask', $will['response_topic'], 'the prefix goes in front of the response topic');
        $this->assertSame("\x01will", $will['correlation_data']);
        $this->assertNotNull($will['message_expiry_interval']);
    }

    public function testAQuickReconnectToTheSessionCancelsADelayedWill(): void
    {
        $prefix = 'test/' . $this->uniq() . '/';
        $listener = $this->listen5($prefix . '#');
        $options = $this->willOptions($prefix, null);
        $holder = $this->holder($options);

        $holder->kill();
        // The same client id, resuming the session before the delay passed.
        $back = new Client($options, 'back-' . $this->uniq());
        $this->assertTrue($back->waitConnected(10.0), json_encode($back->status()));
        $this->assertTrue($back->status()['session_present']);
        usleep((self::DELAY + 2) * 1_000_000);
        $listener->sync();
        $this->assertSame([], $listener->messages(), 'no will: the session was resumed in time');
        $back->close();
    }

    public function testWillPropertiesAreValidatedAndNeedMqtt5(): void
    {
        $will = ['topic' => 'gone'];
        foreach ([
            [['protocol' => '3.1.1', 'will' => $will + ['delay_interval' => 5]], 'option "will.delay_interval" requires option "protocol" => "5" (MQTT 3.1.1 has no will properties)'],
            [['protocol' => '3.1.1', 'will' => $will + ['properties' => ['content_type' => 'x']]], 'option "will.properties" requires option "protocol" => "5" (MQTT 3.1.1 has no will properties)'],
            [['protocol' => '5', 'will' => $will + ['delay_interval' => -1]], 'option "will.delay_interval" must be a whole number of seconds between 0 and 4294967295, got -1'],
            [['protocol' => '5', 'will' => $will + ['properties' => ['content_typ' => 'x']]], 'option "will.properties" has an unknown property "content_typ" (did you mean "content_type"?); known: user_properties, content_type, message_expiry_interval, response_topic, correlation_data, payload_format_indicator'],
            [['protocol' => '5', 'will' => $will + ['properties' => 'x']], 'option "will.properties" must be an array keyed by property name, got "x"'],
        ] as [$options, $expected]) {
            try {
                new Client($this->options($options), 'bad-' . $this->uniq());
                $this->fail('accepted ' . json_encode($options));
            } catch (ConfigException $e) {
                $this->assertSame($expected, $e->getMessage());
            }
        }
    }

    private function willOptions(string $prefix, ?array $properties): array
    {
        $will = ['topic' => 'status', 'payload' => 'offline', 'qos' => 1, 'delay_interval' => self::DELAY];
        if ($properties !== null) {
            $will['properties'] = $properties;
        }
        // A session that outlives the connection: the will waits for the delay, not for the session's end.
        return $this->options([
            'protocol' => '5',
            'prefix' => $prefix,
            'clean_session' => false,
            'session_expiry_interval' => 60,
            'will' => $will,
        ]);
    }

    private function holder(array $options): PhpChild
    {
        $child = PhpChild::start(sprintf(<<<'PHP'
            $client = new Mqtt\Client(%s, 'holder');
            if (!$client->waitConnected(10.0)) {
                exit(1);
            }
            echo "connected\n";
            while (true) {
                sleep(1);
            }
            PHP, var_export($options, true)));
        $child->waitForLine('connected', 20.0);
        return $child;
    }

    private function listen5(string $filter): Mqtt5Listener
    {
        $listener = Mqtt5Listener::start(static::broker(), $filter);
        $this->listeners5[] = $listener;
        return $listener;
    }
}
