//! The end of a visit: the printer's state, and the receipt.

use super::*;

impl<R: Registry + Clone, P: RfidPad, Pr: ReceiptPrinter> Kiosk<R, P, Pr> {
    pub(super) async fn finish(&mut self) {
        let any = self.session.as_ref().is_some_and(|s| !s.lines.is_empty());
        if !any || self.printer.is_none() {
            self.goodbye().await;
            return;
        }
        self.view.printer_ready = match &self.printer {
            Some(p) => match tokio::time::timeout(Duration::from_secs(3), p.status()).await {
                Ok(Ok(s)) => s.can_print(),
                Ok(Err(e)) => {
                    tracing::warn!("receipt printer: {e}");
                    false
                }
                Err(_) => false,
            },
            None => false,
        };
        self.view.screen = Screen::Receipt;
        self.show();
    }

    pub(super) async fn print(&mut self) {
        let (Some(printer), Some(s), Some(p)) = (
            &self.printer,
            self.session.as_ref(),
            self.settings.printer.as_ref(),
        ) else {
            self.goodbye().await;
            return;
        };
        let receipt = Receipt {
            library: self.settings.library.clone(),
            branch: self.settings.branch.clone(),
            printed_at: self.today_time(),
            kind: if s.mode == Mode::Checkin {
                ReceiptKind::Returns
            } else {
                ReceiptKind::Loans
            },
            lines: s.lines.clone(),
            offline: s.any_offline,
            footer: p.footer.clone(),
            language: self.view.language.clone(),
        };
        let bytes = receipt.encode(p.code_page, p.columns);
        match tokio::time::timeout(p.timeout * 3, printer.print(&bytes)).await {
            Ok(Ok(after)) => {
                self.paper_out = Some(after.paper_out);
                if after.paper_near_end {
                    tracing::warn!("receipt printer: paper near its end");
                }
                self.goodbye().await;
            }
            Ok(Err(e)) => {
                if let drivers::DeviceError::Refused { cause, .. } = &e {
                    self.paper_out = Some(cause == receipt::status::OUT_OF_PAPER);
                }
                tracing::error!("receipt not printed: {e}");
                self.message(Message::PrinterFailed, Screen::Goodbye);
            }
            Err(_) => {
                tracing::error!("receipt not printed: the printer did not finish in time");
                self.message(Message::PrinterFailed, Screen::Goodbye);
            }
        }
    }
}
