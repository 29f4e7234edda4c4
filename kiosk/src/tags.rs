//! The pad's tags: an item's data read, and its security switched and read back.

use drivers::rfid::RfidPad;
use iso28560::ItemTag;

use crate::settings::Security;

/// Switches every tag of an item for a loan (`on_loan`) or a return, reading AFI and EAS back; when
/// one tag fails twice, those already switched go back, so a set is never half lent.
pub async fn secure<P: RfidPad>(
    pad: &mut P,
    security: Security,
    uids: &[[u8; 8]],
    on_loan: bool,
) -> Result<(), String> {
    let afi = iso28560::afi::for_loan(on_loan);
    for &uid in uids {
        let mut last = String::new();
        let mut done = false;
        for _ in 0..2 {
            let attempt = async {
                if matches!(security, Security::Afi | Security::Both) {
                    pad.write_afi(uid, afi).await.map_err(|e| e.to_string())?;
                    let back = pad.system_info(uid).await.map_err(|e| e.to_string())?;
                    if back.afi != afi {
                        return Err(format!(
                            "the tag kept AFI {:#04X} after {afi:#04X} was written",
                            back.afi
                        ));
                    }
                }
                if matches!(security, Security::Eas | Security::Both) {
                    let eas = !on_loan;
                    pad.set_eas(uid, eas).await.map_err(|e| e.to_string())?;
                    let back = pad.eas(uid).await.map_err(|e| e.to_string())?;
                    if back != eas {
                        return Err(format!(
                            "the tag kept its EAS bit {} after it was {}",
                            if back { "set" } else { "clear" },
                            if eas { "set" } else { "cleared" }
                        ));
                    }
                }
                Ok::<(), String>(())
            };
            match attempt.await {
                Ok(()) => {
                    done = true;
                    break;
                }
                Err(e) => last = e,
            }
        }
        if !done {
            tracing::warn!("security bit not set: {last}");
            // Parts already switched go back, so a set is never half lent; and so does this
            // tag, whose one bit may have switched before the other would not (an AFI set for
            // loan on a tag whose EAS stuck would let an unlent item through AFI gates).
            let undo = iso28560::afi::for_loan(!on_loan);
            let through = uids.iter().position(|u| *u == uid).map_or(0, |i| i + 1);
            for &done_uid in &uids[..through] {
                if matches!(security, Security::Afi | Security::Both) {
                    let _ = pad.write_afi(done_uid, undo).await;
                }
                if matches!(security, Security::Eas | Security::Both) {
                    let _ = pad.set_eas(done_uid, on_loan).await;
                }
            }
            return Err(last);
        }
    }
    Ok(())
}

/// Whether every tag in `uids` reads switched `on_loan`; `None` when one cannot be read.
pub async fn reads_switched<P: RfidPad>(
    pad: &mut P,
    security: Security,
    uids: &[[u8; 8]],
    on_loan: bool,
) -> Option<bool> {
    let mut all = true;
    for &uid in uids {
        if matches!(security, Security::Afi | Security::Both) {
            let afi = pad.system_info(uid).await.ok()?.afi;
            all &= afi == iso28560::afi::for_loan(on_loan);
        }
        if matches!(security, Security::Eas | Security::Both) {
            all &= pad.eas(uid).await.ok()? != on_loan;
        }
    }
    Some(all)
}

/// Reads one tag's data: its system information, then its user memory (up to 128 bytes).
pub async fn read<P: RfidPad>(pad: &mut P, uid: [u8; 8]) -> Result<ItemTag, String> {
    let info = pad.system_info(uid).await.map_err(|e| e.to_string())?;
    let bytes_per = usize::from(info.block_size.max(1));
    // 128 bytes at most: every ISO 28560 layout in use fits, and one reply frame holds it.
    let blocks = u8::try_from((128 / bytes_per).min(usize::from(info.blocks))).unwrap_or(8);
    let memory = pad
        .read_blocks(uid, 0, blocks)
        .await
        .map_err(|e| e.to_string())?;
    iso28560::decode(&memory, Some(info.dsfid))
        .map(|(tag, _)| tag)
        .map_err(|e| e.to_string())
}
